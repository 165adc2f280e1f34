package io.diffuse.usp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
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
 * Sequence parallelism end to end: {@code diffuse run-component transformer --nproc N --ulysses U
 * --ring R} through the class-path CLI host, which spawns real rank JVMs (this test's class path)
 * that meet over Gloo, on plugin-hunyuan15's diffusers fixtures (4 heads). Tolerance 1e-4, as for
 * one rank against diffusers: fp32 on both sides, differences are summation order (here also the
 * log-sum-exp merge of ring blocks, exact up to rounding).
 *
 * <p>Plan errors are checked without any rank starting: those runs get a host that cannot spawn
 * ranks at all, so reaching the launcher would fail with a different message.
 */
class UspRunComponentCliTest {
    private static final Path TINY = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures",
            "transformer", "tiny").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(boolean canSpawn, String... args) {
        Optional<CliEnvironment.ProcessCommand> ranks = canSpawn
                ? Optional.of(new CliEnvironment.ProcessCommand(List.of(ProcessHandle.current().info().command().orElse("java"),
                        "-cp", System.getProperty("java.class.path"), Cli.class.getName())))
                : Optional.empty();
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of("host", "test"), ranks));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    private String[] runComponent(String inputs, Path output, String... parallel) {
        List<String> args = new java.util.ArrayList<>(List.of("run-component", "transformer", "--model", TINY.toString(),
                "--inputs", TINY.resolve(inputs).toString(), "--output", output.toString()));
        args.addAll(List.of(parallel));
        return args.toArray(String[]::new);
    }

    private static float maxAbsDiffToDiffusers(Path produced, Path fixture) {
        DiffusersCheckpointLoader io = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Tensor ours = io.readTensors(produced).get("sample");
            Tensor diffusers = io.readTensors(fixture).get("sample");
            assertEquals(Arrays.toString(diffusers.sizes().vec().get()), Arrays.toString(ours.sizes().vec().get()));
            return ours.sub(diffusers).abs().max().item_float();
        }
    }

    @Test
    void uspTwoByTwoOnFourProcessesMatchesDiffusers() {
        Path output = tmp.resolve("usp.safetensors");
        int code = run(true, runComponent("i2v.safetensors", output, "--nproc", "4", "--ulysses", "2", "--ring", "2"));
        assertEquals(0, code, out + "\n" + err);
        assertTrue(out.toString().contains("on 4 rank(s)"), out.toString());
        float diff = maxAbsDiffToDiffusers(output, TINY.resolve("i2v.safetensors"));
        assertTrue(diff <= 1e-4f, "ulysses 2 x ring 2 vs diffusers: max abs error " + diff);
    }

    @Test
    void ringOfThreeOnOddTokenCountsMatchesDiffusers() {
        // 2x3x5 video tokens and 5 + 3 + 4 text/image tokens: odd in every dimension; 3 is a degree Ulysses cannot run here.
        Path output = tmp.resolve("ring3.safetensors");
        int code = run(true, runComponent("odd_tokens.safetensors", output, "--nproc", "3", "--ring", "3"));
        assertEquals(0, code, out + "\n" + err);
        assertTrue(out.toString().contains("on 3 rank(s)"), out.toString());
        float diff = maxAbsDiffToDiffusers(output, TINY.resolve("odd_tokens.safetensors"));
        assertTrue(diff <= 1e-4f, "ring 3 vs diffusers: max abs error " + diff);
    }

    @Test
    void ulyssesDegreeNotDividingTheHeadsFailsBeforeAnyRankStarts() {
        Path output = tmp.resolve("never.safetensors");
        int code = run(false, runComponent("odd_tokens.safetensors", output, "--nproc", "3", "--ulysses", "3"));
        assertEquals(1, code, out + "\n" + err);
        String message = err.toString();
        assertTrue(message.contains("Ulysses degree 3 does not divide the model's 4 attention heads")
                && message.contains("valid Ulysses degrees: [1, 2, 4]") && message.contains("diffuse.parallel"), message);
        assertFalse(message.contains("cannot start rank processes"), message);
        assertFalse(Files.exists(output));
    }

    @Test
    void strategyNotInstalledFailsBeforeAnyRankStarts() {
        Path output = tmp.resolve("never.safetensors");
        int code = run(false, runComponent("odd_tokens.safetensors", output, "--nproc", "2", "--ring", "2",
                "--strategy", "striped-ring"));
        assertEquals(1, code, out + "\n" + err);
        String message = err.toString();
        assertTrue(message.contains("parallel strategy 'striped-ring' is not installed")
                && message.contains("[local, ring, ulysses, usp]"), message);
        assertFalse(message.contains("cannot start rank processes"), message);
        assertFalse(Files.exists(output));
    }
}
