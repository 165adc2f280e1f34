package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.Test;

/**
 * The assembled product, run as a user runs it: {@code bin/diffuse --help} and {@code bin/diffuse
 * info} as processes (each boots its own Felix), checked on their standard output.
 */
public class DistributionCommandsIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");

    private record Run(int code, String out, String err) {
    }

    private static Run run(Path tmp, String javaOpts, String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of(DIFFUSE.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        // java.io.tmpdir points into tmp so the test can check the framework storage is removed at exit.
        pb.environment().put("JAVA_OPTS", "-Djava.io.tmpdir=" + tmp + " " + javaOpts);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("bin/diffuse " + String.join(" ", args) + " did not finish in 120s");
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    public void helpListsTheCommands() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-e2e-");
        Run r = run(tmp, "", "--help");
        assertEquals(r.err(), 0, r.code());
        assertTrue(r.out(), r.out().startsWith("Usage: diffuse"));
        assertTrue(r.out(), r.out().contains("info"));
        assertNoFrameworkStorageLeft(tmp);
    }

    @Test
    public void infoListsInstalledPluginsWithTheirBundles() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-e2e-");
        Path deploy = Files.createDirectory(tmp.resolve("deploy"));
        Files.copy(TestBundles.thirdParty(), deploy.resolve("itest-allgather.jar"));
        Files.writeString(deploy.resolve("io.diffuse.engine.cfg"), "diffuse.parallel.strategy = allgather\n");

        Run r = run(tmp, "-Dio.diffuse.deploy=" + deploy, "info");
        assertEquals(r.err(), 0, r.code());
        String out = r.out();
        assertTrue(out, out.contains("framework  org.apache.felix.framework 7.0.5"));
        assertTrue(out, out.contains("Model providers") && out.contains("Parallel strategies") && out.contains("VAE executors"));
        // The deployed bundle's strategy, with its bundle; the .cfg selected it.
        String line = out.lines().filter(l -> l.trim().startsWith("allgather")).findFirst()
                .orElseThrow(() -> new AssertionError("no allgather strategy listed:\n" + out));
        assertTrue(line, line.contains("[org.example.allgather "));
        assertTrue(out, out.contains("strategy allgather,"));
        // Every listed plugin names a bundle of this installation or deploy/.
        for (String l : out.lines().filter(l -> l.endsWith("]")).toList()) {
            assertTrue(l, l.contains("[io.diffuse.") || l.contains("[org.example.allgather "));
        }
        // Standard output is the command's alone: no log lines.
        assertFalse(out, out.contains("WARN") || out.contains("ERROR") || out.contains("INFO"));
        assertNoFrameworkStorageLeft(tmp);
    }

    @Test
    public void configurationErrorIsOneLineAndNonZero() throws Exception {
        Path tmp = Files.createTempDirectory("diffuse-e2e-");
        Run r = run(tmp, "", "info", "-C", "parallel.ulysses=3");
        assertEquals(1, r.code());
        assertTrue(r.err(), r.err().startsWith("error: invalid configuration diffuse.parallel"));
        assertEquals(r.err(), 1, r.err().lines().count());
    }

    private static void assertNoFrameworkStorageLeft(Path tmp) throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            List<Path> left = s.filter(p -> p.getFileName().toString().startsWith("diffuse-felix-")).toList();
            assertTrue("framework storage left behind: " + left, left.isEmpty());
        }
    }
}
