package io.diffuse.hunyuan15.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.hunyuan15.image.HunyuanVideo15ImageProcessor.RgbImage;
import io.diffuse.hunyuan15.image.ResolutionBuckets.Size;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against fixtures from tools/reference/gen_images.py (diffusers + Pillow 12 on seeded noise images). */
class HunyuanVideo15ImageProcessorTest {

    static Path fixtures() throws URISyntaxException {
        return Path.of(HunyuanVideo15ImageProcessorTest.class.getResource("/fixtures/image/cases.txt").toURI()).getParent();
    }

    @Test
    void bucketsMatchTheSpecTable() {
        assertEquals(121, ResolutionBuckets.cropSizeList(640, 16, 4).size());
        assertEquals(181, ResolutionBuckets.cropSizeList(960, 16, 4).size());
        // spec 3.5 [verified] (h x w): T2V asks with height 9, width 16
        assertEquals(new Size(480, 848), ResolutionBuckets.closest(9, 16, 640));
        assertEquals(new Size(848, 480), ResolutionBuckets.closest(16, 9, 640));
        assertEquals(new Size(640, 640), ResolutionBuckets.closest(1, 1, 640));
        assertEquals(new Size(544, 720), ResolutionBuckets.closest(3, 4, 640));
        assertEquals(new Size(720, 1280), ResolutionBuckets.closest(9, 16, 960));
        assertEquals(new Size(1264, 720), ResolutionBuckets.closest(16, 9, 960));
        assertEquals(new Size(960, 960), ResolutionBuckets.closest(1, 1, 960));
        assertEquals(new Size(832, 1104), ResolutionBuckets.closest(3, 4, 960));
    }

    @Test
    void bucketsMatchDiffusersOverManySizes() throws Exception {
        List<String> lines = Files.readAllLines(fixtures().resolve("buckets.txt"));
        assertTrue(lines.size() > 200);
        for (String line : lines) {
            String[] f = line.trim().split(" ");
            Size got = ResolutionBuckets.closest(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]));
            assertEquals(new Size(Integer.parseInt(f[3]), Integer.parseInt(f[4])), got, line);
        }
    }

    /** Bit-exact: Pillow's fixed-point Lanczos reproduced, on noise (the hardest content for rounding). */
    @Test
    void lanczosAndCropAreBitExactWithPillowAndDiffusers() throws Exception {
        Path dir = fixtures();
        int crops = 0;
        for (String line : Files.readAllLines(dir.resolve("cases.txt"))) {
            String[] f = line.trim().split(" ");
            String name = f[0];
            RgbImage in = HunyuanVideo15ImageProcessor.read(dir.resolve(name + ".png"));
            RgbImage expected = HunyuanVideo15ImageProcessor.read(dir.resolve(name + ".expected.png"));
            int outH = Integer.parseInt(f[5]);
            int outW = Integer.parseInt(f[6]);
            assertEquals(Integer.parseInt(f[2]), in.width());
            assertEquals(Integer.parseInt(f[3]), in.height());
            RgbImage got;
            if (f[1].equals("crop")) {
                Size size = HunyuanVideo15ImageProcessor.defaultSize(in, Integer.parseInt(f[4]));
                assertEquals(new Size(outH, outW), size, name);
                got = HunyuanVideo15ImageProcessor.resizeAndCrop(in, size.height(), size.width());
                checkTensor(got, dir.resolve(name + ".tensor.bin"));
                crops++;
            } else {
                got = new RgbImage(outW, outH, LanczosResampler.resize(in.rgb(), in.width(), in.height(), 3, outW, outH));
            }
            assertEquals(expected.width(), got.width(), name);
            assertEquals(expected.height(), got.height(), name);
            assertArrayEquals(expected.rgb(), got.rgb(), name + ": Lanczos must match Pillow bit for bit");
        }
        assertEquals(6, crops);
    }

    /** preprocess: 2 * (x / 255) - 1 in float32, the same operations as numpy/torch, so exactly equal. */
    private static void checkTensor(RgbImage image, Path expectedFile) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(expectedFile)).order(ByteOrder.LITTLE_ENDIAN);
        float[] expected = new float[bytes.remaining() / 4];
        bytes.asFloatBuffer().get(expected);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = HunyuanVideo15ImageProcessor.toTensor(image);
            assertArrayEquals(new long[] {1, 3, 1, image.height(), image.width()}, t.sizes().vec().get());
            float[] got = new float[(int) t.numel()];
            new FloatPointer(t.contiguous().data_ptr_float()).get(got);
            assertArrayEquals(expected, got, 0f);
        }
    }

    @Test
    void endToEndPreprocessGivesTheBucketTensor() throws Exception {
        RgbImage in = HunyuanVideo15ImageProcessor.read(fixtures().resolve("land_down.png"));
        try (PointerScope scope = new PointerScope()) {
            Tensor t = HunyuanVideo15ImageProcessor.preprocess(in, 64);
            assertArrayEquals(new long[] {1, 3, 1, 48, 80}, t.sizes().vec().get());
            assertTrue(t.min().item_float() >= -1f && t.max().item_float() <= 1f);
        }
    }

    /** JPEG: javax.imageio's decoder vs libjpeg (Pillow): different IDCT/upsampling, so within 3 levels. */
    @Test
    void readsJpegCloseToPillow() throws Exception {
        RgbImage jpeg = HunyuanVideo15ImageProcessor.read(fixtures().resolve("jpeg.jpg"));
        RgbImage pillow = HunyuanVideo15ImageProcessor.read(fixtures().resolve("jpeg.decoded.png"));
        assertEquals(pillow.width(), jpeg.width());
        assertEquals(pillow.height(), jpeg.height());
        int max = 0;
        for (int i = 0; i < jpeg.rgb().length; i++) {
            max = Math.max(max, Math.abs((jpeg.rgb()[i] & 0xff) - (pillow.rgb()[i] & 0xff)));
        }
        assertTrue(max <= 3, "JPEG decode differs from Pillow by " + max);
    }

    @Test
    void rejectsMissingAndUnreadableImages(@TempDir Path dir) throws IOException {
        DiffuseException missing = assertThrows(DiffuseException.class,
                () -> HunyuanVideo15ImageProcessor.read(dir.resolve("none.png")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        Path text = Files.writeString(dir.resolve("notes.png"), "not an image");
        DiffuseException bad = assertThrows(DiffuseException.class, () -> HunyuanVideo15ImageProcessor.read(text));
        assertTrue(bad.getMessage().contains("PNG or JPEG"), bad.getMessage());
    }
}
