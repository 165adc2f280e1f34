package io.diffuse.cache.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * {@code diffuse generate --nproc 2 --ring 2 -C cache.policy=first-block -C cache.threshold=0.45}
 * through the class-path CLI host: 2 real rank JVMs over Gloo on the tiny pipeline with
 * gen_cache.py's T2V settings (8 steps, guidance 6). The latents are within 1e-4 of diffusers'
 * first-block-cached latents, and both ranks logged the same 16 decisions (8 of them skips).
 */
class CachedGenerateCliTest {
    private static final Path FIXTURES = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures",
            "pipeline").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    @Test
    void twoRankProcessesUnderRingTakeTheSameDecisionsAndReproduceDiffusers() {
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = loader.readTensors(FIXTURES.resolve("t2v_cache.safetensors"));
            Map<String, Tensor> embeds = new HashMap<>(c);
            embeds.keySet().removeIf(k -> k.startsWith("latents"));
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
            int code = cl.execute("generate", "--model", FIXTURES.resolve("tiny").toString(), "--prompt-embeds",
                    embedsFile.toString(), "--height", "64", "--width", "64", "--num-frames", "5", "--num-inference-steps", "8",
                    "--guidance-scale", "6.0", "--seed", "42", "--output-tensors", result.toString(), "--nproc", "2",
                    "--ring", "2", "--vae-parallel", "1", "--threads", "1", "-C", "cache.policy=first-block", "-C", "cache.threshold=0.45");
            assertEquals(0, code, out + "\n" + err);

            double latentErr = maxAbsDiff(loader.readTensors(result).get("latents"), c.get("latents_fbc_0.45"));
            assertTrue(latentErr <= 1e-4, "latents vs diffusers' first-block cache: max abs error " + latentErr);
            List<String> rank0 = decisions(err.toString(), 0);
            List<String> rank1 = decisions(err.toString(), 1);
            assertEquals(16, rank0.size(), err.toString());
            assertEquals(rank0, rank1);
            assertEquals(8, rank0.stream().filter(line -> line.contains(": reuse")).count(), String.join("\n", rank0));
        }
    }

    /** Rank {@code rank}'s logged decisions, from "step <i> <branch>: ..." on. */
    private static List<String> decisions(String log, int rank) {
        String marker = "step cache first-block rank " + rank + " ";
        return log.lines().filter(l -> l.startsWith("[rank " + rank + "]") && l.contains(marker))
                .map(l -> l.substring(l.indexOf(marker) + marker.length())).toList();
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Float).sub(b.to(ScalarType.Float)).abs().max().item().toDouble();
    }
}
