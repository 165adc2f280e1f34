package io.diffuse.core.video;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import org.bytedeco.pytorch.Tensor;

/**
 * Writes a decoded video tensor (B, 3, F, H, W) in [0, 1] as MP4 files and, optionally, PNG frames,
 * each output atomically. A batch of one gives exactly the requested file; a larger batch gives one file
 * per item, named {@code name-0.mp4}, {@code name-1.mp4}, ...
 */
public final class VideoExport {

    private VideoExport() {
    }

    /**
     * Writes every batch item of {@code video} as an MP4.
     *
     * @param video (B, 3, F, H, W) floating point in [0, 1]
     * @param target the MP4 path (for B = 1) or the name pattern of the per-item files
     * @param writer the encoder settings (fps, codec)
     * @return the files written, one per batch item
     */
    public static List<Path> writeMp4(Tensor video, Path target, Mp4Writer writer) {
        long[] s = VideoTensors.checkLayout(video);
        List<Path> written = new ArrayList<>();
        for (int b = 0; b < s[0]; b++) {
            Path file = s[0] == 1 ? target : perItem(target, b);
            written.add(writer.write(file, Math.toIntExact(s[4]), Math.toIntExact(s[3]), Math.toIntExact(s[2]),
                    VideoTensors.frames(video, b)));
        }
        return written;
    }

    /**
     * Writes every frame of a one-item {@code video} as {@code frame-00000.png}, ... straight into the
     * existing folder {@code directory} (a staging folder of an {@link OutputTransaction}).
     */
    public static void writePngFramesInto(Tensor video, Path directory) throws java.io.IOException {
        long[] s = VideoTensors.checkLayout(video);
        if (s[0] != 1) {
            throw new DiffuseException("PNG frames of a batch of " + s[0] + " videos: write one video per run");
        }
        int frames = Math.toIntExact(s[2]);
        int height = Math.toIntExact(s[3]);
        int width = Math.toIntExact(s[4]);
        RgbFrameSource source = VideoTensors.frames(video, 0);
        byte[] rgb = new byte[width * height * 3];
        for (int f = 0; f < frames; f++) {
            source.frame(f, rgb);
            writePng(toImage(rgb, width, height), directory.resolve(String.format("frame-%05d.png", f)));
        }
    }

    /**
     * Packs RGB bytes into an image.
     *
     * @param rgb packed RGB, {@code width * height * 3} bytes
     * @param width image width
     * @param height image height
     * @return a TYPE_INT_RGB image of those pixels
     */
    public static BufferedImage toImage(byte[] rgb, int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int i = (y * width + x) * 3;
                row[x] = (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff);
            }
            image.setRGB(0, y, width, 1, row, 0, width);
        }
        return image;
    }

    private static void writePng(BufferedImage image, Path file) throws IOException {
        if (!ImageIO.write(image, "png", file.toFile())) {
            throw new IOException("no PNG writer available in javax.imageio");
        }
    }

    /** {@code out/video.mp4} -> {@code out/video-3.mp4}; {@code out/frames} -> {@code out/frames-3}. */
    static Path perItem(Path target, int item) {
        String name = target.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String itemName = dot > 0 ? name.substring(0, dot) + "-" + item + name.substring(dot) : name + "-" + item;
        return target.resolveSibling(itemName);
    }
}
