package io.diffuse.api.model;

import java.time.Duration;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * What a pipeline produced.
 *
 * @param latents denoised latents (B, C, T, H, W), before decoding
 * @param video decoded video (B, 3, F, H, W) in [0, 1]; null on ranks that do not hold the result
 * @param stageTimes wall time per stage (encode, denoise, decode), in order
 * @param stagePeakBytes peak resident memory per stage, in bytes
 */
public record GenerationResult(Tensor latents, Tensor video, Map<String, Duration> stageTimes,
        Map<String, Long> stagePeakBytes) {
}
