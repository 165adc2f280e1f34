package io.diffuse.hunyuan15.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import io.diffuse.hunyuan15.pipeline.PipelineFixtures;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code diffuse generate} with broken model inputs, through the real CLI on one rank: each fails
 * with its own one-line error (word for word), and the built-in demo does image-to-video.
 */
class ModelInputErrorsCliTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();

    private int run(String... args) {
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.empty()));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /**
     * The error line the run printed last on stderr, from its "error: " on (an unfinished progress line
     * may precede it on the same terminal line; that is the CLI's to fix, not the message's).
     */
    private String lastErrorLine() {
        String[] lines = err.toString().strip().split("\n");
        String last = lines[lines.length - 1];
        return last.substring(Math.max(0, last.indexOf("error: ")));
    }

    private Path embeddings() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = new HashMap<>(PipelineFixtures.read(loader, "t2v_cfg"));
            c.remove("latents");
            c.remove("video");
            Path file = tmp.resolve("embeds.safetensors");
            loader.writeTensors(file, c);
            return file;
        }
    }

    @Test
    void anUnparsableModelIndexIsNamedWithItsParseError() throws IOException {
        Path root = tmp.resolve("model");
        try (Stream<Path> paths = Files.walk(PipelineFixtures.root().resolve("tiny"))) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Files.copy(p, root.resolve(PipelineFixtures.root().resolve("tiny").relativize(p).toString()));
            }
        }
        Path index = root.resolve("model_index.json");
        Files.writeString(index, "{\"_class_name\": HunyuanVideo15Pipeline}");
        Path result = tmp.resolve("out.safetensors");
        assertNotEquals(0, run("generate", "--nproc", "1", "--model", root.toString(), "--prompt-embeds", embeddings().toString(),
                "--height", "64", "--width", "64", "--num-frames", "5", "--num-inference-steps", "1", "--output-tensors",
                result.toString()));
        assertEquals("error: cannot parse " + index + " as a JSON object: " + index
                + ": 1: Token not allowed in valid JSON: 'HunyuanVideo15Pipeline'", lastErrorLine());
        assertFalse(Files.exists(result));
    }

    @Test
    void anEmbeddingsFileWithNoTensorsSaysSoAndNotThatItIsMissing() throws IOException {
        Path empty = tmp.resolve("empty.safetensors");
        Files.write(empty, new byte[] {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        Path result = tmp.resolve("out.safetensors");
        assertNotEquals(0, run("generate", "--nproc", "1", "--model", PipelineFixtures.root().resolve("tiny").toString(),
                "--prompt-embeds", empty.toString(), "--height", "64", "--width", "64", "--num-frames", "5",
                "--num-inference-steps", "1", "--output-tensors", result.toString()));
        assertEquals("error: tensor file " + empty + " holds no tensors; write the tensors into it (safetensors with named"
                + " tensors, e.g. safetensors.torch.save_file)", lastErrorLine());
        assertFalse(Files.exists(result));
    }

    /**
     * A 40000 x 40000 PNG is refused from its header, before any pixel is decoded (the file here has
     * the header only; decoding it used to fail with "Invalid scanline stride").
     */
    @Test
    void anImageAboveThePixelLimitIsRefusedFromItsHeader() throws IOException {
        Path image = tmp.resolve("huge.png");
        Files.write(image, pngHeaderOnly(40000, 40000));
        Path result = tmp.resolve("out.safetensors");
        assertNotEquals(0, run("generate", "--nproc", "1", "--image", image.toString(), "--num-frames", "5",
                "--num-inference-steps", "1", "--output-tensors", result.toString()));
        assertEquals("error: image " + image + " is 40000 x 40000 pixels, more than the limit of 67108864 pixels (8192 x 8192)"
                + " for an input image; scale it down first", lastErrorLine());
        assertFalse(Files.exists(result));
    }

    @Test
    void theDemoDoesImageToVideo() {
        Path result = tmp.resolve("out.safetensors");
        assertEquals(0, run("generate", "--nproc", "1", "--image", PipelineFixtures.root().resolve("image.png").toString(),
                "--prompt", "a fox", "--num-frames", "5", "--num-inference-steps", "1", "--output-tensors", result.toString()),
                err.toString());
        try (PointerScope scope = new PointerScope()) {
            // The 64 x 64 image at the demo's target size 128: the square 128 x 128 bucket.
            assertArrayEquals(new long[] {1, 3, 5, 128, 128}, loader.readTensors(result).get("video").sizes().vec().get());
        }
    }

    /** A PNG signature, an IHDR of {@code width} x {@code height} 8-bit RGB, one tiny IDAT and IEND. */
    static byte[] pngHeaderOnly(int width, int height) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream png = new DataOutputStream(bytes);
        png.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream h = new DataOutputStream(ihdr);
        h.writeInt(width);
        h.writeInt(height);
        h.write(new byte[] {8, 2, 0, 0, 0}); // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
        chunk(png, "IHDR", ihdr.toByteArray());
        Deflater deflater = new Deflater();
        deflater.setInput(new byte[16]);
        deflater.finish();
        byte[] idat = new byte[64];
        int n = deflater.deflate(idat);
        chunk(png, "IDAT", java.util.Arrays.copyOf(idat, n));
        chunk(png, "IEND", new byte[0]);
        return bytes.toByteArray();
    }

    private static void chunk(DataOutputStream png, String type, byte[] data) throws IOException {
        byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
        png.writeInt(data.length);
        png.write(typeBytes);
        png.write(data);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data);
        png.writeInt((int) crc.getValue());
    }
}
