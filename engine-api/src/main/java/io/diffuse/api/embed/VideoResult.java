package io.diffuse.api.embed;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * One generation's result on this rank.
 *
 * @param latents denoised latents (B, C, T, H, W); owned by the caller's PointerScope if one was open around
 *        {@code generate}, else by the caller ({@code close()} frees it, or the GC)
 * @param video decoded video (B, 3, F, H, W) in [0, 1], or null on ranks that do not hold it
 * @param written files rank 0 wrote (empty on other ranks)
 * @param stageTimes wall time per stage (encode, denoise, decode)
 * @param width frame width of the decoded video, as written (the model may choose another size than
 *        the request's: image-to-video fits the input image's aspect ratio); 0 where this rank holds no video
 * @param height frame height of the decoded video, as written; 0 where this rank holds no video
 * @param frames frame count of the decoded video; 0 where this rank holds no video
 */
public record VideoResult(Tensor latents, Tensor video, List<Path> written, Map<String, Duration> stageTimes,
        int width, int height, int frames) {
}
