package io.diffuse.vaepp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
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
 * Every configuration layer reaches the work a command does, not only what {@code info} prints: the
 * number of denoising steps the progress bar counts, the strategy whose collectives moved bytes, the
 * timeout a rendezvous waits. Layers: flag, -D system property, DIFFUSE_* environment variable,
 * --config file, a model's built-in default, reference.conf (the .cfg / ConfigAdmin layers are
 * covered in the distribution's integration tests, where Felix runs).
 */
class ConfigurationReachesTheWorkTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** A small demo run on one rank; the steps come from the layer under test. */
    private List<String> demo(String... extra) {
        List<String> a = new ArrayList<>(List.of("generate", "--prompt", "a fox", "--height", "32", "--width", "32",
                "--num-frames", "5", "--output-tensors", tmp.resolve("t-" + System.nanoTime() + ".safetensors").toString()));
        a.addAll(List.of(extra));
        return a;
    }

    private int run(List<String> args) {
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.of(
                new CliEnvironment.ProcessCommand(CliProcess.javaCommand(List.of())))));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args.toArray(String[]::new));
    }

    private static void assertSteps(int steps, String stderr) {
        assertTrue(stderr.contains(" " + steps + "/" + steps + " "), "ran " + steps + " denoising steps:\n" + stderr);
    }

    @Test
    void flagSetsTheSteps() {
        assertEquals(0, run(demo("--nproc", "1", "--num-inference-steps", "3")), err.toString());
        assertSteps(3, err.toString());
    }

    @Test
    void configFileSetsTheSteps() throws Exception {
        Path conf = tmp.resolve("my.conf");
        Files.writeString(conf, "diffuse.generate.num-inference-steps = 3\ndiffuse.parallel { nproc = 1 }\n");
        assertEquals(0, run(demo("--config", conf.toString())), err.toString());
        assertSteps(3, err.toString());
    }

    @Test
    void builtInModelDefaultAppliesWhenNothingIsSetAndReferenceFpsReachesTheMp4() {
        Path mp4 = tmp.resolve("d.mp4");
        assertEquals(0, run(demo("--nproc", "1", "--output", mp4.toString())), err.toString());
        assertSteps(8, err.toString()); // the demo's own default, over reference.conf's 50
        assertTrue(out.toString().contains("24 fps"), out.toString()); // reference.conf
    }

    @Test
    void systemPropertySetsTheSteps() {
        CliProcess.Result r = CliProcess.run(tmp, Map.of(), List.of("-Ddiffuse.generate.num-inference-steps=3"),
                demo("--nproc", "1").toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.toString());
        assertSteps(3, r.err());
    }

    @Test
    void environmentSetsTheStepsAndAFlagBeatsIt() {
        CliProcess.Result r = CliProcess.run(tmp, Map.of("DIFFUSE_GENERATE_NUM__INFERENCE__STEPS", "3"), List.of(),
                demo("--nproc", "1").toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.toString());
        assertSteps(3, r.err());
        CliProcess.Result flagWins = CliProcess.run(tmp, Map.of("DIFFUSE_GENERATE_NUM__INFERENCE__STEPS", "3"), List.of(),
                demo("--nproc", "1", "--num-inference-steps", "2").toArray(String[]::new));
        assertEquals(0, flagWins.exitCode(), flagWins.toString());
        assertSteps(2, flagWins.err());
    }

    /**
     * The strategy named by the environment runs on 2 ranks: Ring moves its blocks with send/recv,
     * Ulysses (from the --config file) with all_to_all; the demo's own plan (USP, Ulysses 2) is not
     * applied over the user's choice.
     */
    @Test
    void strategyFromEnvironmentAndFileIsTheOneWhoseCollectivesRun() throws Exception {
        CliProcess.Result ring = CliProcess.run(tmp, Map.of("DIFFUSE_PARALLEL_STRATEGY", "ring"), List.of(),
                demo("--nproc", "2", "--num-inference-steps", "1").toArray(String[]::new));
        assertEquals(0, ring.exitCode(), ring.toString());
        String ringLine = reportLine(ring.out());
        assertTrue(ringLine.contains("ulysses=1 ring=2") && ringLine.contains("strategy ring"), ringLine);
        assertTrue(ringLine.contains(" send ") && !ringLine.contains("all_to_all"), ringLine);

        Path conf = tmp.resolve("u.conf");
        Files.writeString(conf, "diffuse.parallel.strategy = ulysses\n");
        CliProcess.Result ulysses = CliProcess.run(tmp, Map.of(), List.of(),
                demo("--nproc", "2", "--num-inference-steps", "1", "--config", conf.toString()).toArray(String[]::new));
        assertEquals(0, ulysses.exitCode(), ulysses.toString());
        String line = reportLine(ulysses.out());
        assertTrue(line.contains("ulysses=2 ring=1") && line.contains("strategy ulysses") && line.contains("all_to_all"), line);
    }

    /** The strategy from a -D system property is the one run-component's transformer runs (Ulysses: all_to_all). */
    @Test
    void strategyFromASystemPropertyReachesRunComponent() {
        Path tiny = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures", "transformer", "tiny")
                .toAbsolutePath().normalize();
        CliProcess.Result r = CliProcess.run(tmp, Map.of(), List.of("-Ddiffuse.parallel.strategy=ulysses"), "run-component",
                "transformer", "--model", tiny.toString(), "--inputs", tiny.resolve("t2v.safetensors").toString(), "--output",
                tmp.resolve("o.safetensors").toString(), "--nproc", "2");
        assertEquals(0, r.exitCode(), r.toString());
        String line = reportLine(r.out());
        assertTrue(line.contains("ulysses=2 ring=1") && line.contains("strategy ulysses") && line.contains("all_to_all"), line);
    }

    /** {@code generate --nproc 2} alone on the demo: the user's rank count replaces the demo's plan with one ring. */
    @Test
    void nprocAloneMakesOneRing() {
        CliProcess.Result r = CliProcess.run(tmp, Map.of(), List.of(), demo("--nproc", "2", "--num-inference-steps", "1")
                .toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.toString());
        String line = reportLine(r.out());
        assertTrue(line.contains("world=2 ulysses=1 ring=2") && line.contains("strategy ring"), line);
    }

    private static String reportLine(String stdout) {
        return stdout.lines().filter(l -> l.contains("] ran world=")).findFirst()
                .orElseThrow(() -> new AssertionError("no 'ran ...' line in\n" + stdout));
    }

    /**
     * diffuse.dist.timeout from the environment bounds the rendezvous: rank 0 of a 2-rank world whose
     * rank 1 never comes gives up after about the configured 3 s (the default is 60 s).
     */
    @Test
    void timeoutFromEnvironmentBoundsTheRendezvous() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        CliProcess.Result r = CliProcess.run(tmp, Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1",
                "MASTER_PORT", Integer.toString(port), "DIFFUSE_DIST_TIMEOUT", "3s"), List.of(), "comm-check", "--iterations", "1");
        assertNotEquals(0, r.exitCode(), r.toString());
        assertTrue(r.seconds() < 30, "gave up after " + r.seconds() + " s; configured 3 s, default 60 s");
        assertTrue(r.err().contains("error:"), r.toString());
    }

    @Test
    void unknownKeyFromAFlagSuggestsTheNearestKey() {
        assertEquals(1, run(demo("-C", "diffuse.paralel.nproc=2")));
        assertEquals("error: unknown configuration key diffuse.paralel.nproc (from command-line flag); did you mean"
                + " diffuse.parallel.nproc? (see `diffuse info --config-dump` for every key)", err.toString().strip());
    }

    @Test
    void unknownKeyFromTheEnvironmentNamesTheVariable() {
        CliProcess.Result r = CliProcess.run(tmp, Map.of("DIFFUSE_PARALEL_NPROC", "2"), List.of(), "info");
        assertEquals(1, r.exitCode(), r.toString());
        assertEquals("error: unknown configuration key diffuse.paralel.nproc (from environment variable DIFFUSE_PARALEL_NPROC);"
                + " did you mean diffuse.parallel.nproc? (see `diffuse info --config-dump` for every key)", r.err().strip());
    }

    @Test
    void wrongTypesAreOneLineErrorsNamingThePath() {
        assertEquals(1, run(demo("-C", "diffuse.parallel.ulysses=abc")));
        assertEquals("error: invalid configuration diffuse.parallel.ulysses = 'abc': expected an integer (from command-line flag)",
                err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(1, run(demo("-C", "diffuse.parallel=3")));
        assertTrue(err.toString().strip().startsWith("error: invalid configuration diffuse.parallel = '3': expected an object"),
                err.toString());
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(1, run(demo("-C", "diffuse.vae.tiling=maybe")));
        assertEquals("error: invalid configuration diffuse.vae.tiling = 'maybe': expected true or false (from command-line flag)",
                err.toString().strip());
    }

    /** A plugin's own numeric key given as text reaches the plugin as a number, and its own check names a bad one. */
    @Test
    void pluginKeysAreTypedAndCheckedByThePlugin() {
        assertEquals(0, run(demo("--nproc", "1", "--num-inference-steps", "1", "-C", "diffuse.hunyuan15.text-encoder.max-length=64")),
                err.toString());
        err.getBuffer().setLength(0);
        assertEquals(1, run(demo("-C", "diffuse.hunyuan15.text-encoder.max-length=0")));
        assertEquals("error: invalid configuration diffuse.hunyuan15.text-encoder.max-length = 0: allowed: 1..1000000",
                err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(1, run(demo("-C", "diffuse.hunyuan15.text-encoder.torchscript=/nonexistent/qwen.pt")));
        assertTrue(err.toString().strip().startsWith("error: invalid configuration diffuse.hunyuan15.text-encoder.torchscript ="
                + " '/nonexistent/qwen.pt': no such file"), err.toString());
        assertFalse(err.toString().contains("Exception"), err.toString());
    }
}
