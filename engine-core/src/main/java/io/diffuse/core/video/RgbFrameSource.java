package io.diffuse.core.video;

import java.io.IOException;

/**
 * Supplies the frames of a video as packed 8-bit RGB (row-major, {@code height * width * 3} bytes,
 * R G B per pixel), one frame at a time so a long video never has to be held as bytes all at once.
 */
@FunctionalInterface
public interface RgbFrameSource {
    /**
     * Fills {@code rgb} with frame {@code index}.
     *
     * @param index the frame index, 0-based, in order
     * @param rgb the buffer to fill, {@code height * width * 3} bytes
     * @throws IOException when the frame cannot be produced; the output being written is then discarded
     */
    void frame(int index, byte[] rgb) throws IOException;
}
