package io.diffuse.api.model;

import java.time.Duration;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * What a pipeline produced.
 *
 * @param latents denoised latents (B, C, T, H, W), before decoding
 * @param video decoded video (B, 3, F, H, W) in [0, 1]; null on ranks that do not hold the result
 * @param stageTimes wall time per stage (encode, denoise, decode), in order; measured by the engine
 *        around the pipeline's progress events (a pipeline returns an empty map)
 * @param stagePeakBytes peak memory per stage in bytes (host RSS on the CPU, the CUDA allocator's peak
 *        on a GPU); measured by the engine (a pipeline returns an empty map)
 */
public record GenerationResult(Tensor latents, Tensor video, Map<String, Duration> stageTimes,
        Map<String, Long> stagePeakBytes) {
}
