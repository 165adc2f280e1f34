package io.diffuse.core.generate;

import org.bytedeco.pytorch.Tensor;

/**
 * The size of a decoded video as it was written: the pipeline may choose another size than the one
 * asked for (image-to-video fits the input image's aspect ratio), so what is reported comes from here.
 *
 * @param width frame width in pixels
 * @param height frame height in pixels
 * @param frames frame count
 */
public record VideoSize(int width, int height, int frames) {
    /** The size of a decoded video tensor (B, 3, F, H, W). */
    public static VideoSize of(Tensor video) {
        return new VideoSize(Math.toIntExact(video.size(4)), Math.toIntExact(video.size(3)), Math.toIntExact(video.size(2)));
    }

    /** {@code WIDTHxHEIGHT}, as the OpenAI video object's {@code size}. */
    @Override
    public String toString() {
        return width + "x" + height;
    }
}
