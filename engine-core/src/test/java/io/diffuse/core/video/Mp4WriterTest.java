package io.diffuse.core.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Mp4WriterTest {

    static final int F = 9;
    static final int H = 48;
    static final int W = 64;
    static final int FPS = 12;

    @TempDir
    Path dir;

    /** A smooth moving pattern in [0, 1] (lossy codecs keep smooth content close), layout (B, 3, F, H, W). */
    static float[] pattern(int batch) {
        float[] v = new float[batch * 3 * F * H * W];
        int i = 0;
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < 3; c++) {
                for (int f = 0; f < F; f++) {
                    for (int y = 0; y < H; y++) {
                        for (int x = 0; x < W; x++) {
                            double phase = 2 * Math.PI * ((double) x / W + (double) f / F + 0.3 * c + 0.5 * b);
                            v[i++] = (float) (0.5 + 0.35 * Math.sin(phase) * (0.6 + 0.4 * y / H));
                        }
                    }
                }
            }
        }
        return v;
    }

    /** The uint8 frame bytes export_to_video would produce: (x * 255).astype(uint8), packed (H, W, 3). */
    static byte[] expectedFrame(float[] v, int b, int f) {
        byte[] rgb = new byte[H * W * 3];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                for (int c = 0; c < 3; c++) {
                    float value = v[(((b * 3 + c) * F + f) * H + y) * W + x];
                    rgb[(y * W + x) * 3 + c] = (byte) (int) (value * 255f);
                }
            }
        }
        return rgb;
    }

    @Test
    void truncatesLikeNumpyAstype() throws IOException {
        float[] values = {0f, 0.5f, 0.999f, 1f, -0.25f, 1.5f, 0.00392f, 0.00393f};
        // 0.5*255 = 127.5 -> 127; 0.999*255 = 254.7 -> 254; out of range clamps; 0.00393*255 = 1.002 -> 1
        int[] expected = {0, 127, 254, 255, 0, 255, 0, 1};
        float[] video = new float[3 * values.length];
        for (int c = 0; c < 3; c++) {
            System.arraycopy(values, 0, video, c * values.length, values.length);
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensor.create(video, 1, 3, 1, 1, values.length);
            byte[] rgb = new byte[values.length * 3];
            VideoTensors.frames(t, 0).frame(0, rgb);
            for (int x = 0; x < values.length; x++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(expected[x], rgb[x * 3 + c] & 0xff, "value " + values[x] + " channel " + c);
                }
            }
        }
    }

    @Test
    void roundTripsThroughTheDefaultH264Encoder() throws IOException {
        roundTrip(null, "h264");
    }

    @Test
    void roundTripsThroughMpeg4Part2() throws IOException {
        roundTrip("mpeg4", "mpeg4");
    }

    private void roundTrip(String encoder, String expectedCodec) throws IOException {
        float[] v = pattern(1);
        Path out = dir.resolve("clip.mp4");
        try (PointerScope scope = new PointerScope()) {
            Tensor video = Tensor.create(v, 1, 3, F, H, W);
            List<Path> written = VideoExport.writeMp4(video, out, new Mp4Writer(FPS, encoder));
            assertEquals(List.of(out), written);
        }
        Mp4Decoder.Decoded d = Mp4Decoder.decode(out);
        assertEquals(expectedCodec, d.codec());
        assertEquals(W, d.width());
        assertEquals(H, d.height());
        assertEquals(FPS, d.fps(), 1e-9);
        assertEquals(F, d.frames().size());
        // Lossy codec (4:2:0 chroma subsampling + quantisation) at near-lossless settings: on this smooth
        // pattern the mean absolute error must stay within 3 of 255 levels and no pixel may be off by more
        // than 40 (a frame swap, colour-matrix mix-up or range mismatch gives errors of tens on average).
        double sum = 0;
        int max = 0;
        for (int f = 0; f < F; f++) {
            byte[] want = expectedFrame(v, 0, f);
            byte[] got = d.frames().get(f);
            for (int i = 0; i < want.length; i++) {
                int e = Math.abs((want[i] & 0xff) - (got[i] & 0xff));
                sum += e;
                max = Math.max(max, e);
            }
        }
        double mean = sum / ((double) F * H * W * 3);
        System.out.printf("%s (%s): mean abs error %.3f, max %d (of 255)%n", expectedCodec,
                new Mp4Writer(FPS, encoder).encoder(), mean, max);
        assertTrue(mean <= 3.0, "mean abs error " + mean);
        assertTrue(max <= 40, "max abs error " + max);
    }

    @Test
    void writesOneFilePerBatchItem() throws IOException {
        float[] v = pattern(2);
        try (PointerScope scope = new PointerScope()) {
            Tensor video = Tensor.create(v, 2, 3, F, H, W);
            List<Path> written = VideoExport.writeMp4(video, dir.resolve("clip.mp4"), new Mp4Writer(FPS));
            assertEquals(List.of(dir.resolve("clip-0.mp4"), dir.resolve("clip-1.mp4")), written);
        }
        // the items differ (phase shifted by half a period), so each file must match its own item
        for (int b = 0; b < 2; b++) {
            Mp4Decoder.Decoded d = Mp4Decoder.decode(dir.resolve("clip-" + b + ".mp4"));
            byte[] want = expectedFrame(v, b, 0);
            byte[] other = expectedFrame(v, 1 - b, 0);
            assertTrue(meanError(want, d.frames().get(0)) < meanError(other, d.frames().get(0)) / 4);
        }
    }

    @Test
    void failureMidwayLeavesNoFileAndKeepsTheOldOne() throws IOException {
        Path out = dir.resolve("clip.mp4");
        Mp4Writer writer = new Mp4Writer(FPS);
        DiffuseException e = assertThrows(DiffuseException.class, () -> writer.write(out, W, H, F, (i, rgb) -> {
            if (i == 4) {
                throw new IOException("decoder ran out of memory");
            }
            java.util.Arrays.fill(rgb, (byte) (i * 20));
        }));
        assertTrue(e.getMessage().contains("decoder ran out of memory"), e.getMessage());
        assertEquals(List.of(), listing(dir), "a failed encode must leave nothing, not even its temporary file");

        Files.writeString(out, "previous result");
        assertThrows(DiffuseException.class, () -> writer.write(out, W, H, F, (i, rgb) -> {
            throw new IllegalStateException("boom");
        }));
        assertEquals("previous result", Files.readString(out, StandardCharsets.UTF_8));
        assertEquals(List.of("clip.mp4"), listing(dir));
    }

    @Test
    void writesPngFramesExactly() throws IOException {
        float[] v = pattern(1);
        Path frames = dir.resolve("frames");
        try (PointerScope scope = new PointerScope(); OutputTransaction tx = new OutputTransaction()) {
            Tensor video = Tensor.create(v, 1, 3, F, H, W);
            tx.directory(frames, staging -> VideoExport.writePngFramesInto(video, staging));
            tx.commit();
        }
        assertEquals(F, listing(frames).size());
        for (int f = 0; f < F; f++) {
            BufferedImage image = ImageIO.read(frames.resolve(String.format("frame-%05d.png", f)).toFile());
            byte[] got = new byte[H * W * 3];
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    int p = image.getRGB(x, y);
                    got[(y * W + x) * 3] = (byte) (p >> 16);
                    got[(y * W + x) * 3 + 1] = (byte) (p >> 8);
                    got[(y * W + x) * 3 + 2] = (byte) p;
                }
            }
            assertArrayEquals(expectedFrame(v, 0, f), got, "PNG is lossless: frame " + f);
        }
        assertEquals(List.of("frames"), listing(dir), "no temporary directory left");
    }

    @Test
    void failedPngFramesLeaveNothing() throws IOException {
        Path frames = dir.resolve("frames");
        try (OutputTransaction tx = new OutputTransaction()) {
            assertThrows(DiffuseException.class, () -> tx.directory(frames, tmp -> {
                Files.writeString(tmp.resolve("frame-00000.png"), "x");
                throw new IOException("disk full");
            }));
        }
        assertEquals(List.of(), listing(dir));
    }

    @Test
    void rejectsBadInputClearly() {
        Mp4Writer writer = new Mp4Writer(FPS);
        DiffuseException odd = assertThrows(DiffuseException.class,
                () -> writer.write(dir.resolve("a.mp4"), 63, 48, 1, (i, rgb) -> { }));
        assertTrue(odd.getMessage().contains("even"), odd.getMessage());
        assertThrows(DiffuseException.class, () -> new Mp4Writer(0));
        DiffuseException codec = assertThrows(DiffuseException.class, () -> new Mp4Writer(FPS, "no-such-codec").encoder());
        assertTrue(codec.getMessage().contains("no-such-codec"), codec.getMessage());
        try (PointerScope scope = new PointerScope()) {
            Tensor notVideo = Tensor.create(new float[12], 1, 3, 4);
            assertThrows(DiffuseException.class, () -> VideoExport.writeMp4(notVideo, dir.resolve("b.mp4"), writer));
        }
        DiffuseException isDir = assertThrows(DiffuseException.class, () -> writer.write(dir, W, H, 1, (i, rgb) -> { }));
        assertTrue(isDir.getMessage().contains("directory"), isDir.getMessage());
    }

    private static double meanError(byte[] a, byte[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs((a[i] & 0xff) - (b[i] & 0xff));
        }
        return s / a.length;
    }

    private static List<String> listing(Path directory) throws IOException {
        try (Stream<Path> s = Files.list(directory)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
