package io.diffuse.api.embed;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * One generation's result on this rank.
 *
 * @param latents denoised latents (B, C, T, H, W); owned by the caller's PointerScope, if any
 * @param video decoded video (B, 3, F, H, W) in [0, 1], or null on ranks that do not hold it
 * @param written files rank 0 wrote (empty on other ranks)
 * @param stageTimes wall time per stage (encode, denoise, decode)
 */
public record VideoResult(Tensor latents, Tensor video, List<Path> written, Map<String, Duration> stageTimes) {
}
