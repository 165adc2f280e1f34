package io.diffuse.hunyuan15.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import io.diffuse.hunyuan15.pipeline.DemoPipeline;
import io.diffuse.hunyuan15.pipeline.PipelineFixtures;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code diffuse generate} through the real CLI: the T2V + CFG fixture's latents within 1e-4 of
 * diffusers (as the pipeline golden test), the built-in demo, and clear errors.
 */
class GenerateCliTest {
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

    @Test
    void textToVideoWithGuidanceReproducesDiffusersLatents() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = PipelineFixtures.read(loader, "t2v_cfg");
            Path embeds = tmp.resolve("embeds.safetensors");
            Map<String, Tensor> e = new HashMap<>(c);
            e.remove("latents");
            e.remove("video");
            loader.writeTensors(embeds, e);
            Path result = tmp.resolve("out.safetensors");
            int code = run("generate", "--model", PipelineFixtures.root().resolve("tiny").toString(), "--prompt-embeds",
                    embeds.toString(), "--height", "64", "--width", "64", "--num-frames", "5", "--num-inference-steps", "3",
                    "--guidance-scale", "6.0", "--seed", "42", "--output-tensors", result.toString());
            assertEquals(0, code, err.toString());
            Map<String, Tensor> got = loader.readTensors(result);
            double latentErr = PipelineFixtures.maxAbsDiff(got.get("latents"), c.get("latents"));
            assertTrue(latentErr <= 1e-4, "latents max abs error " + latentErr);
            assertArrayEquals(c.get("video").sizes().vec().get(), got.get("video").sizes().vec().get());
            assertTrue(PipelineFixtures.maxAbsDiff(got.get("video"), c.get("video")) <= 1e-4);
            assertTrue(err.toString().contains("denoise [") && err.toString().contains("3/3") && err.toString().contains("ETA"),
                    err.toString());
            assertTrue(out.toString().contains("peak memory") && out.toString().contains("decode"), out.toString());
        }
    }

    @Test
    void pngFramesAreTheDecodedVideoAndAppearAtomically() throws Exception {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = PipelineFixtures.read(loader, "t2v_cfg");
            Path embeds = tmp.resolve("embeds.safetensors");
            Map<String, Tensor> e = new HashMap<>(c);
            e.remove("latents");
            e.remove("video");
            loader.writeTensors(embeds, e);
            Path result = tmp.resolve("out.safetensors");
            Path frames = tmp.resolve("frames");
            int code = run("generate", "--model", PipelineFixtures.root().resolve("tiny").toString(), "--prompt-embeds",
                    embeds.toString(), "--height", "64", "--width", "64", "--num-frames", "5", "--num-inference-steps", "1",
                    "--output-tensors", result.toString(), "--png-frames", frames.toString());
            assertEquals(0, code, err.toString());
            try (var listing = Files.list(tmp)) {
                assertEquals(java.util.Set.of("embeds.safetensors", "out.safetensors", "frames"),
                        listing.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toSet()),
                        "no temporary directory is left behind");
            }
            try (var listing = Files.list(frames)) {
                assertEquals(java.util.List.of("frame-00000.png", "frame-00001.png", "frame-00002.png", "frame-00003.png",
                        "frame-00004.png"), listing.map(p -> p.getFileName().toString()).sorted().toList());
            }
            // Pixels are the video tensor as numpy's (x * 255).astype(uint8); within 1 level because x * 255 in float (the
            // writer) and in double (here) can fall on either side of an integer before truncation.
            Tensor video = loader.readTensors(result).get("video");
            for (int f = 0; f < 5; f += 4) {
                java.awt.image.BufferedImage png = javax.imageio.ImageIO.read(frames.resolve(String.format("frame-%05d.png", f)).toFile());
                assertEquals(64, png.getWidth());
                assertEquals(64, png.getHeight());
                for (int y = 0; y < 64; y += 7) {
                    for (int x = 0; x < 64; x += 5) {
                        int rgb = png.getRGB(x, y);
                        for (int ch = 0; ch < 3; ch++) {
                            int expected = (int) (video.get(0).get(ch).get(f).get(y).get(x).item().toDouble() * 255);
                            int got = rgb >> (16 - 8 * ch) & 0xff;
                            assertTrue(Math.abs(expected - got) <= 1, "frame " + f + " (" + x + "," + y + ") channel " + ch
                                    + ": png " + got + ", video " + expected);
                        }
                    }
                }
            }
            Path file = tmp.resolve("out.safetensors");
            assertNotEquals(0, run("generate", "--model", PipelineFixtures.root().resolve("tiny").toString(), "--prompt-embeds",
                    embeds.toString(), "--png-frames", file.toString()));
            assertTrue(err.toString().contains("--png-frames") && err.toString().contains("is a file"), err.toString());
        }
    }

    @Test
    void demoRunsEndToEndFromPromptTextAndSaysItIsNoise() throws Exception {
        try (PointerScope scope = new PointerScope()) {
            Path result = tmp.resolve("demo.safetensors");
            Path mp4 = tmp.resolve("demo.mp4");
            // Prompt text through the demo's native (tiny, random) Qwen2.5-VL and ByT5 encoders, with CFG.
            int code = run("generate", "--prompt", "a cat holding a sign that says \"hello\"", "--nproc", "1",
                    "--guidance-scale", "6", "--num-frames", "5", "--num-inference-steps", "2", "--height", "64", "--width",
                    "64", "--output-tensors", result.toString(), "--output", mp4.toString(), "--fps", "8");
            assertEquals(0, code, err.toString());
            assertTrue(Files.size(mp4) > 100, "an MP4 was written");
            assertTrue(out.toString().contains("8 fps"), out.toString());
            assertTrue(out.toString().contains("noise"), out.toString());
            Tensor video = loader.readTensors(result).get("video");
            assertArrayEquals(new long[] {1, 3, 5, 64, 64}, video.sizes().vec().get());
            assertTrue(video.min().item().toDouble() >= 0 && video.max().item().toDouble() <= 1);

            Path other = tmp.resolve("demo-dog.safetensors");
            assertEquals(0, run("generate", "--prompt", "a dog", "--nproc", "1", "--guidance-scale", "6", "--num-frames", "5",
                    "--num-inference-steps", "2", "--height", "64", "--width", "64", "--output-tensors", other.toString()),
                    err.toString());
            float diff = loader.readTensors(result).get("latents").sub(loader.readTensors(other).get("latents")).abs().max()
                    .item_float();
            assertTrue(diff > 1e-4, "the prompt text reaches the transformer: " + diff);
        }
    }

    /**
     * diffuse.hunyuan15.text-encoder(-2).torchscript reach the pipeline through the engine's
     * configuration: with only the tokenizers in the model root (no text_encoder/ weights), prompt text
     * is encoded by the traced fixture modules, and the latents match a run through the native
     * encoders of the same weights within 1e-4 (the traced modules match diffusers within 1e-4 as the
     * native ports do; fp32 throughout). Were the keys ignored, the first run would have no prompt
     * encoder at all and fail.
     */
    @Test
    void torchScriptEncodersFromConfigurationMatchTheNativeEncoders() throws Exception {
        try (PointerScope scope = new PointerScope()) {
            Path root = tmp.resolve("model");
            io.diffuse.testkit.SingleRankContext ctx = new io.diffuse.testkit.SingleRankContext(
                    io.diffuse.api.runtime.DType.FP32, new io.diffuse.core.local.LocalVaeExecutor(),
                    io.diffuse.api.vae.TilingSettings.defaults(false));
            DemoPipeline.write(root, ctx);
            Path encoders = Path.of(GenerateCliTest.class.getResource("/fixtures/encoders").toURI());
            copyTree(encoders.resolve("pipeline/tokenizer"), root.resolve("tokenizer"));
            copyTree(encoders.resolve("pipeline/tokenizer_2"), root.resolve("tokenizer_2"));
            String[] common = {"generate", "--model", root.toString(), "--prompt", "a cat holding a sign that says \"hello\"",
                "--height", "32", "--width", "32", "--num-frames", "5", "--num-inference-steps", "2", "--seed", "5"};
            Path traced = tmp.resolve("traced.safetensors");
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(common));
            args.addAll(java.util.List.of("--output-tensors", traced.toString(),
                    "-C", "diffuse.hunyuan15.text-encoder.torchscript=" + encoders.resolve("torchscript/text_encoder.pt"),
                    "-C", "diffuse.hunyuan15.text-encoder-2.torchscript=" + encoders.resolve("torchscript/text_encoder_2.pt")));
            assertEquals(0, run(args.toArray(String[]::new)), err.toString());

            copyTree(encoders.resolve("pipeline/text_encoder"), root.resolve("text_encoder"));
            copyTree(encoders.resolve("pipeline/text_encoder_2"), root.resolve("text_encoder_2"));
            Path nativeRun = tmp.resolve("native.safetensors");
            args = new java.util.ArrayList<>(java.util.List.of(common));
            args.addAll(java.util.List.of("--output-tensors", nativeRun.toString()));
            assertEquals(0, run(args.toArray(String[]::new)), err.toString());
            double d = PipelineFixtures.maxAbsDiff(loader.readTensors(traced).get("latents"),
                    loader.readTensors(nativeRun).get("latents"));
            assertTrue(d <= 1e-4, "TorchScript vs native encoders: latents max abs diff " + d);
        }
    }

    private static void copyTree(Path from, Path to) throws java.io.IOException {
        try (java.util.stream.Stream<Path> paths = Files.walk(from)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    @Test
    void missingInputsAndOutputsAreClearErrors() throws Exception {
        assertNotEquals(0, run("generate", "--model", tmp.toString(), "--prompt", "x", "--fps", "0", "--output", "a.mp4"));
        assertTrue(err.toString().contains("diffuse.generate.fps = 0"), err.toString());
        assertNotEquals(0, run("generate", "--nproc", "1", "--prompt", "x"));
        assertTrue(err.toString().contains("--output"), err.toString());
        Path image = tmp.resolve("nope.png");
        assertNotEquals(0, run("generate", "--nproc", "1", "--image", image.toString(), "--output-tensors",
                tmp.resolve("o.safetensors").toString()));
        assertTrue(err.toString().contains("nope.png"), err.toString());
        assertNotEquals(0, run("generate", "--nproc", "1", "--prompt", "a cat", "--num-frames", "6", "--num-inference-steps", "1",
                "--output-tensors", tmp.resolve("o.safetensors").toString()));
        assertTrue(err.toString().contains("6"), err.toString());
        assertFalse(Files.exists(tmp.resolve("o.safetensors")), "a failed run writes nothing");
    }
}
