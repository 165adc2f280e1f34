package io.diffuse.hunyuan15.image;

import io.diffuse.api.DiffuseException;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.bytedeco.pytorch.Tensor;

/**
 * The I2V image preprocessing of diffusers' {@code HunyuanVideo15ImageProcessor} (with the pipeline's
 * {@code do_resize=False}): pick the bucket of the image's aspect ratio
 * ({@code calculate_default_height_width}), {@code resize(..., resize_mode="crop")} — a PIL Lanczos resize
 * that covers the bucket keeping the aspect ratio (floor division), pasted centred on a black canvas
 * of the bucket's size, which crops the excess — then {@code preprocess}: {@code x / 255 * 2 - 1} as a
 * (1, 3, 1, h, w) float tensor for the VAE.
 *
 * <p>The resize is Pillow's exactly ({@link LanczosResampler}), so for RGB and grayscale inputs the
 * tensor equals diffusers' bit for bit. Differences: images with an alpha channel have it dropped before
 * resizing (Pillow resizes them premultiplied, then drops it when pasting), palette images are resized
 * from their RGB colours (Pillow resizes palette indices with NEAREST), and JPEG decoding is Java's
 * (javax.imageio), whose IDCT may differ from libjpeg's by a level or so.
 */
public final class HunyuanVideo15ImageProcessor {

    /** An 8-bit RGB image: rows packed, R G B per pixel. */
    public record RgbImage(int width, int height, byte[] rgb) {
        /**
         * Checks the buffer size.
         *
         * @param width width in pixels
         * @param height height in pixels
         * @param rgb {@code width * height * 3} bytes
         */
        public RgbImage {
            if (width < 1 || height < 1 || rgb.length != width * height * 3) {
                throw new IllegalArgumentException("an RGB image of " + width + "x" + height + " needs "
                        + (long) width * height * 3 + " bytes, got " + rgb.length);
            }
        }
    }

    private HunyuanVideo15ImageProcessor() {
    }

    /**
     * The most pixels an input image may have: 8192 x 8192 (64 Mpx, 192 MiB decoded as RGB). Videos are
     * generated at the model's bucket size (640 px class for the 480p release), so a larger image
     * only costs memory; decoding a 20000 x 20000 PNG took 2.9 GB.
     */
    public static final long MAX_PIXELS = 8192L * 8192L;

    /**
     * Reads a PNG or JPEG (anything javax.imageio decodes) as RGB. The size is read from the header
     * first, and an image of more than {@link #MAX_PIXELS} pixels is refused before it is decoded.
     *
     * @param file the image file
     * @return its pixels
     * @throws DiffuseException when the file is missing, too large or not a readable image
     */
    public static RgbImage read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DiffuseException("image " + file + " does not exist; give a PNG or JPEG with --image");
        }
        BufferedImage image;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? java.util.Collections.emptyIterator() : ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new DiffuseException("image " + file + " is not in a format javax.imageio reads; give a PNG or JPEG");
            }
            ImageReader reader = readers.next();
            try {
                // As ImageIO.read does: seek forward only, ignore metadata.
                reader.setInput(in, true, true);
                long width = reader.getWidth(0);
                long height = reader.getHeight(0);
                checkPixels(file, width, height);
                image = reader.read(0, reader.getDefaultReadParam());
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new DiffuseException("cannot decode image " + file + ": " + e.getMessage() + "; give a PNG or JPEG", e);
        }
        if (image == null) {
            throw new DiffuseException("image " + file + " is not in a format javax.imageio reads; give a PNG or JPEG");
        }
        return toRgb(image);
    }

    /**
     * Reads only the header of {@code file}: a format javax.imageio reads and at most {@link #MAX_PIXELS}
     * pixels, so a bad image fails before any rank starts, at the cost of a few bytes read.
     *
     * @throws DiffuseException naming what is wrong with the file
     */
    public static void checkHeader(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DiffuseException("image " + file + " does not exist; give a PNG or JPEG with --image");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? java.util.Collections.emptyIterator() : ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new DiffuseException("image " + file + " is not in a format javax.imageio reads; give a PNG or JPEG");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                checkPixels(file, reader.getWidth(0), reader.getHeight(0));
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new DiffuseException("cannot read the header of image " + file + ": " + e.getMessage() + "; give a PNG or JPEG", e);
        }
    }

    /** Refuses an image of more than {@link #MAX_PIXELS} pixels, naming its size and the limit. */
    static void checkPixels(Path file, long width, long height) {
        if (width * height > MAX_PIXELS) {
            throw new DiffuseException("image " + file + " is " + width + " x " + height + " pixels, more than the limit of "
                    + MAX_PIXELS + " pixels (8192 x 8192) for an input image; scale it down first");
        }
    }

    /**
     * The RGB pixels of {@code image}. Grayscale samples are replicated to R, G and B as PIL's L to RGB
     * conversion does (not passed through Java's linear-gray colour conversion); alpha is dropped.
     *
     * @param image a decoded image
     * @return its pixels
     */
    public static RgbImage toRgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] rgb = new byte[w * h * 3];
        Raster raster = image.getRaster();
        boolean gray = image.getColorModel().getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY
                && raster.getSampleModel().getSampleSize(0) == 8;
        if (gray) {
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    int i = (y * w + x) * 3;
                    rgb[i] = rgb[i + 1] = rgb[i + 2] = (byte) row[x];
                }
            }
        } else {
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                image.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0; x < w; x++) {
                    int i = (y * w + x) * 3;
                    rgb[i] = (byte) (row[x] >> 16);
                    rgb[i + 1] = (byte) (row[x] >> 8);
                    rgb[i + 2] = (byte) row[x];
                }
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /**
     * {@code calculate_default_height_width(img.h, img.w, target_size)}.
     *
     * @param image the input image
     * @param targetSize the transformer's {@code target_size} (640 for 480p models)
     * @return the bucket the video is generated at
     */
    public static ResolutionBuckets.Size defaultSize(RgbImage image, int targetSize) {
        return ResolutionBuckets.closest(image.height(), image.width(), targetSize);
    }

    /**
     * {@code VaeImageProcessor._resize_and_crop}: Lanczos resize to cover {@code width x height} keeping
     * the aspect ratio, then paste centred on a black canvas of that size.
     *
     * @param image the input image
     * @param height target height
     * @param width target width
     * @return the cropped image, {@code width x height}
     */
    public static RgbImage resizeAndCrop(RgbImage image, int height, int width) {
        double ratio = (double) width / height;
        double srcRatio = (double) image.width() / image.height();
        // Python // on non-negative ints is floor division.
        int srcW = ratio > srcRatio ? width : (int) ((long) image.width() * height / image.height());
        int srcH = ratio <= srcRatio ? height : (int) ((long) image.height() * width / image.width());
        byte[] resized = LanczosResampler.resize(image.rgb(), image.width(), image.height(), 3, srcW, srcH);
        // res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2)); the canvas is black.
        int offX = width / 2 - srcW / 2;
        int offY = height / 2 - srcH / 2;
        byte[] out = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            int sy = y - offY;
            if (sy < 0 || sy >= srcH) {
                continue;
            }
            int x0 = Math.max(0, offX);
            int x1 = Math.min(width, offX + srcW);
            if (x1 > x0) {
                System.arraycopy(resized, (sy * srcW + x0 - offX) * 3, out, (y * width + x0) * 3, (x1 - x0) * 3);
            }
        }
        return new RgbImage(width, height, out);
    }

    /**
     * {@code preprocess(image)} without resizing: {@code 2 * (x / 255) - 1} in float32, as (1, 3, 1, h, w)
     * (the pipeline's {@code unsqueeze(2)} adds the frame axis).
     *
     * @param image the (already cropped) image
     * @return a new CPU float tensor in [-1, 1]; the caller owns it
     */
    public static Tensor toTensor(RgbImage image) {
        int plane = image.width() * image.height();
        float[] values = new float[3 * plane];
        byte[] rgb = image.rgb();
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) {
                float v = (rgb[p * 3 + c] & 0xff) / 255.0f; // np.float32 / 255.0 stays float32
                values[c * plane + p] = 2.0f * v - 1.0f;
            }
        }
        return Tensor.create(values, 1, 3, 1, image.height(), image.width());
    }

    /**
     * The whole I2V image path: bucket, resize and crop, tensor.
     *
     * @param image the input image
     * @param targetSize the transformer's {@code target_size}
     * @return a (1, 3, 1, h, w) tensor in [-1, 1] at the bucket's size; the caller owns it
     */
    public static Tensor preprocess(RgbImage image, int targetSize) {
        ResolutionBuckets.Size size = defaultSize(image, targetSize);
        return toTensor(resizeAndCrop(image, size.height(), size.width()));
    }
}
