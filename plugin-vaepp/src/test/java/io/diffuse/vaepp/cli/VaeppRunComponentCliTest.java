package io.diffuse.vaepp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Patch-parallel VAE end to end: {@code diffuse run-component vae-decode|vae-encode --nproc N
 * --vae-parallel N --tiling ...} through the class-path CLI host, which spawns real rank JVMs (this
 * test's class path) that meet over Gloo, against diffusers' tiled VAE on plugin-hunyuan15's
 * vae-unseen fixtures (32 px tiles, overlap 0.5: 2 x 3 = 6 tiles, so 3 tiles per rank at 2 ranks
 * and 2 per rank at 3, every rank receiving and forwarding blend strips).
 *
 * <p>Tolerance 1e-4, as for the single-rank tiled executor against diffusers: fp32 on both sides;
 * the differences are convolution summation order. The patch-parallel result is bit for bit the
 * single-rank tiled one ({@code PatchParallelVaeExecutorTest}), so this checks the CLI wiring: flags,
 * VAE group, executor choice and that rank 0 writes the merged result.
 *
 * <p>The inputs file is the fixture itself: it also holds diffusers' output, and run-component
 * passes the component only the tensors it requires.
 */
class VaeppRunComponentCliTest {
    private static final Path VAE = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures",
            "vae-unseen").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        Optional<CliEnvironment.ProcessCommand> ranks = Optional.of(new CliEnvironment.ProcessCommand(List.of(
                ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
                Cli.class.getName())));
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of("host", "test"), ranks));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /** Runs {@code component} on {@code ranks} ranks, all in the VAE group; returns max |ours - diffusers|. */
    private float runAgainstDiffusers(String component, String fixture, String outputName, int ranks) {
        Path inputs = VAE.resolve(fixture);
        Path output = tmp.resolve(component + ".safetensors");
        String n = Integer.toString(ranks);
        int code = run("run-component", component, "--model", VAE.toString(), "--inputs", inputs.toString(),
                "--output", output.toString(), "--nproc", n, "--vae-parallel", n, "--tiling", "--tile-size", "32",
                "--tile-overlap", "0.5");
        assertEquals(0, code, out + "\n" + err);
        assertTrue(out.toString().contains("on " + n + " rank(s)"), out.toString());
        DiffusersCheckpointLoader io = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> produced = io.readTensors(output);
            assertEquals(List.of(outputName), List.copyOf(produced.keySet()), "tensors written to " + output);
            Tensor ours = produced.get(outputName);
            Tensor diffusers = io.readTensors(inputs).get(outputName);
            assertEquals(Arrays.toString(diffusers.sizes().vec().get()), Arrays.toString(ours.sizes().vec().get()));
            return ours.sub(diffusers).abs().max().item_float();
        }
    }

    @Test
    void decodeOnTwoRanksMatchesDiffusersTiled() {
        float diff = runAgainstDiffusers("vae-decode", "decode_tiled_32_0.5.safetensors", "sample", 2);
        assertTrue(diff <= 1e-4f, "patch-parallel decode on 2 ranks vs diffusers tiled: max abs error " + diff);
    }

    @Test
    void encodeOnThreeRanksMatchesDiffusersTiled() {
        float diff = runAgainstDiffusers("vae-encode", "encode_tiled_32_0.5.safetensors", "latent", 3);
        assertTrue(diff <= 1e-4f, "patch-parallel encode on 3 ranks vs diffusers tiled: max abs error " + diff);
    }
}
