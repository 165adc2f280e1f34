package io.diffuse.vaepp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Everything that can be known before a rank starts fails before one does: each case is one line on
 * stderr, exit code 1, and no rank process was ever started (the host's rank command here would
 * leave a marker file behind; none appears, and this JVM has no child processes).
 */
class ChecksBeforeRanksTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** Runs {@code generate} with the demo on a host whose rank command marks that a rank was started. */
    private String fails(String... args) {
        Path marker = tmp.resolve("a-rank-was-started");
        CliEnvironment env = new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.of(new CliEnvironment.ProcessCommand(
                List.of("sh", "-c", "touch '" + marker + "'", "sh"))));
        CommandLine cl = Cli.create(env);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> a = new ArrayList<>(List.of("generate", "--prompt", "a fox"));
        a.addAll(List.of(args));
        if (!a.contains("--output") && !a.contains("--output-tensors")) {
            a.addAll(List.of("--output", tmp.resolve("out.mp4").toString()));
        }
        err.getBuffer().setLength(0);
        int code = cl.execute(a.toArray(String[]::new));
        String e = err.toString().strip();
        assertEquals(1, code, "exit code; stderr: " + e + "\nstdout: " + out);
        assertEquals(1, e.lines().count(), "one line: " + e);
        assertTrue(e.startsWith("error: "), e);
        assertFalse(Files.exists(marker), "no rank was started");
        assertTrue(ProcessHandle.current().children().noneMatch(ProcessHandle::isAlive), "no child process");
        assertFalse(Files.exists(tmp.resolve("out.mp4")), "no output");
        return e;
    }

    @Test
    void unknownStrategy() {
        String e = fails("--nproc", "2", "--strategy", "bogus");
        assertTrue(e.contains("parallel strategy 'bogus' is not installed") && e.contains("ring"), e);
    }

    @Test
    void ulyssesDegreeThatDoesNotDivideTheHeads() {
        String e = fails("--nproc", "3", "--ulysses", "3");
        assertTrue(e.contains("4-head model builtin:demo") && e.contains("ulysses"), e);
    }

    @Test
    void strategyThatContradictsTheDegrees() {
        String e = fails("--strategy", "ring", "--nproc", "2", "--ulysses", "2");
        assertTrue(e.contains("diffuse.parallel.strategy = 'ring'") && e.contains("ulysses"), e);
    }

    @Test
    void framesThatAreNot4kPlus1() {
        assertEquals("error: --num-frames 10 is not 4k+1 (the VAE's temporal compression is 4); use e.g. 9 or 13",
                fails("--num-frames", "10", "--nproc", "2"));
    }

    @Test
    void tileSizeOffTheLatentGrid() {
        String e = fails("--tile-size", "17");
        assertTrue(e.contains("diffuse.vae.tile-size") && e.contains("17 px is not a multiple of the spatial compression 16"), e);
    }

    @Test
    void sizesThatAreNotMultiplesOf16() {
        assertTrue(fails("--height", "-16", "--width", "32").contains("diffuse.generate.height = -16: must be positive"));
        assertTrue(fails("--height", "40", "--width", "32").contains("--height 40 is not a positive multiple of 16"));
        assertTrue(fails("--height", "32").contains("give both --height and --width"));
    }

    @Test
    void unwritableOrClashingOutputs() {
        assertTrue(fails("--output", "/proc/demo.mp4").contains("--output /proc/demo.mp4: directory /proc is not writable"));
        assertTrue(fails("--output", tmp.resolve("no/such/dir/x.mp4").toString()).contains("does not exist"));
        Path same = tmp.resolve("same.out");
        assertTrue(fails("--output", same.toString(), "--output-tensors", same.toString())
                .contains("is also given for another output"));
        assertTrue(fails("--output", tmp.toString()).contains("is a directory"));
    }

    @Test
    void nonFiniteGuidanceAndNegativeFlowShift() {
        assertTrue(fails("--guidance-scale", "NaN").contains("diffuse.generate.guidance-scale = NaN: must be a finite number"));
        assertTrue(fails("--guidance-scale", "Infinity").contains("guidance-scale = Infinity"));
        assertTrue(fails("--flow-shift", "-1").contains("diffuse.generate.flow-shift = -1.0: must be a finite number > 0"));
    }

    @Test
    void cfgParallelWithoutGuidance() {
        assertTrue(fails("--nproc", "2", "--cfg-parallel", "2", "--guidance-scale", "1").contains("diffuse.parallel.cfg = 2"));
    }

    @Test
    void modelFamilyAndModelProblems() {
        assertTrue(fails("--model-family", "nosuch").contains("model provider 'nosuch' is not installed"));
        assertTrue(fails("--model", "builtin:nosuch").contains("no installed model family builds 'builtin:nosuch'"));
        String e = fails("--model", tmp.toString());
        assertTrue(e.contains("no installed model family recognises " + tmp), e);
        assertTrue(fails("--model", tmp.resolve("missing").toString()).contains("is not a directory"));
    }

    @Test
    void missingInputFiles() {
        assertTrue(fails("--image", tmp.resolve("nope.png").toString()).contains("--image " + tmp.resolve("nope.png")
                + " does not exist"));
        assertTrue(fails("--prompt-embeds", tmp.resolve("e.safetensors").toString()).contains("does not exist"));
    }
}
