package io.diffuse.vaepp.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code diffuse generate --nproc 4 --ulysses 2 --cfg-parallel 2 --vae-parallel 4} through the
 * class-path CLI host, which spawns 4 real rank JVMs (this test's class path: plugin-usp,
 * plugin-vaepp and plugin-hunyuan15) meeting over Gloo, on plugin-hunyuan15's tiny diffusers
 * pipeline fixture with its precomputed T2V embeddings, guidance 6 (CFG on). The latents must be
 * within 1e-4 of diffusers' HunyuanVideo15Pipeline latents, the tolerance of the single-rank
 * golden test: fp32 on both sides, differences are summation order (all-to-all and the CFG
 * exchange move values without changing them).
 *
 * <p>The VAE decodes 32 px tiles with overlap 0.5 so that all 4 ranks get tiles; tile blending makes
 * that video differ from diffusers' untiled decode by design (ParallelPipelineParityTest compares it
 * with the single-rank tiled decode), so here the video is checked for shape and range only.
 */
class ParallelGenerateCliTest {
    private static final Path FIXTURES = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures",
            "pipeline").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    @Test
    void fourRankProcessesWithUlyssesCfgParallelAndPatchParallelVaeReproduceDiffusersLatents() {
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = loader.readTensors(FIXTURES.resolve("t2v_cfg.safetensors"));
            Map<String, Tensor> embeds = new HashMap<>(c);
            embeds.remove("latents");
            embeds.remove("video");
            Path embedsFile = tmp.resolve("embeds.safetensors");
            loader.writeTensors(embedsFile, embeds);
            Path result = tmp.resolve("out.safetensors");

            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CliEnvironment.ProcessCommand ranks = new CliEnvironment.ProcessCommand(List.of(
                    ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
                    Cli.class.getName()));
            CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of("host", "test"),
                    Optional.of(ranks)));
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            // gen_pipeline.py's t2v_cfg settings: 64x64, 5 frames, 3 steps, guidance 6, seed 42.
            int code = cl.execute("generate", "--model", FIXTURES.resolve("tiny").toString(), "--prompt-embeds",
                    embedsFile.toString(), "--height", "64", "--width", "64", "--num-frames", "5", "--num-inference-steps", "3",
                    "--guidance-scale", "6.0", "--seed", "42", "--output-tensors", result.toString(), "--nproc", "4",
                    "--ulysses", "2", "--cfg-parallel", "2", "--vae-parallel", "4", "--tiling", "--tile-size", "32",
                    "--tile-overlap", "0.5", "--threads", "1");
            assertEquals(0, code, out + "\n" + err);
            assertTrue(out.toString().contains("on 4 rank(s)"), out.toString());

            Map<String, Tensor> got = loader.readTensors(result);
            double latentErr = maxAbsDiff(got.get("latents"), c.get("latents"));
            assertTrue(latentErr <= 1e-4, "latents vs diffusers: max abs error " + latentErr);
            Tensor video = got.get("video");
            assertArrayEquals(c.get("video").sizes().vec().get(), video.sizes().vec().get());
            assertTrue(video.min().item().toDouble() >= 0 && video.max().item().toDouble() <= 1, "video in [0, 1]");
        }
    }

    /**
     * Only world rank 0 builds the prompt embeddings; when it cannot (here: guidance 6 with an
     * embeddings file that lacks the negative_* tensors), 2 rank processes under CFG parallel both stop
     * (rank 1 told by rank 0's failure marker, with rank 0's message, instead of waiting in the
     * broadcast), the run exits non-zero with that message, and no output is written.
     */
    @Test
    void whenRankZeroCannotBuildThePromptEmbeddingsEveryRankStopsWithItsError() {
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> embeds = new HashMap<>(loader.readTensors(FIXTURES.resolve("t2v_cfg.safetensors")));
            embeds.keySet().removeIf(k -> k.startsWith("negative_") || k.equals("latents") || k.equals("video"));
            Path embedsFile = tmp.resolve("positive-only.safetensors");
            loader.writeTensors(embedsFile, embeds);
            Path result = tmp.resolve("out.safetensors");
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of("host", "test"),
                    Optional.of(new CliEnvironment.ProcessCommand(List.of(
                            ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
                            Cli.class.getName())))));
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            long start = System.nanoTime();
            int code = cl.execute("generate", "--model", FIXTURES.resolve("tiny").toString(), "--prompt-embeds",
                    embedsFile.toString(), "--height", "64", "--width", "64", "--num-frames", "5", "--num-inference-steps", "1",
                    "--guidance-scale", "6.0", "--output-tensors", result.toString(), "--nproc", "2", "--cfg-parallel", "2",
                    "--threads", "1");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertNotEquals(0, code, out + "\n" + err);
            // Rank 1's error quotes rank 0's, so the reason is there even if rank 0 is stopped before it prints.
            assertTrue(err.toString().contains("world rank 0 failed to encode the prompt: the prompt embeddings lack "
                    + "[negative_prompt_embeds, negative_prompt_embeds_2, negative_prompt_embeds_mask, negative_prompt_embeds_mask_2]; "
                    + "guidance scale 6.0 needs the negative_* embeddings too (or use guidance 1)"), err.toString());
            // Well under the 30 s collective timeout a waiting rank would run into.
            assertTrue(seconds < 25, "took " + seconds + " s:\n" + err);
            assertTrue(!java.nio.file.Files.exists(result), "no output");
            System.out.println("rank 0 fails to build the embeddings on 2 ranks: exit " + code + " after " + seconds + " s\n" + err);
        }
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Float).sub(b.to(ScalarType.Float)).abs().max().item().toDouble();
    }
}
