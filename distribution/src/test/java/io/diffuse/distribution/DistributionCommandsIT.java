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
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The assembled product, run as a user runs it: {@code bin/diffuse --help} and {@code bin/diffuse
 * info} as processes (each boots its own Felix), checked on their standard output.
 */
public class DistributionCommandsIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");

    private record Run(int code, String out, String err) {
    }

    @Rule
    public TemporaryFolder temporary = new TemporaryFolder();

    /** {@code bin/diffuse args} started in {@code tmp} (its working and temporary folder), output to files there. */
    private record Started(Process process, Path outFile, Path errFile) {
        String out() throws IOException {
            return Files.readString(outFile);
        }

        String err() throws IOException {
            return Files.readString(errFile);
        }
    }

    private static Started start(Path tmp, String javaOpts, String... args) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(DIFFUSE.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        // java.io.tmpdir points into tmp so the test can check the framework storage is removed at exit.
        pb.environment().put("JAVA_OPTS", "-Djava.io.tmpdir=" + tmp + " " + javaOpts);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return new Started(pb.start(), out, err);
    }

    private static Run finish(Started s, String... args) throws IOException, InterruptedException {
        if (!s.process().waitFor(120, TimeUnit.SECONDS)) {
            s.process().destroyForcibly();
            throw new AssertionError("bin/diffuse " + String.join(" ", args) + " did not finish in 120s");
        }
        return new Run(s.process().exitValue(), s.out(), s.err());
    }

    private static Run run(Path tmp, String javaOpts, String... args) throws IOException, InterruptedException {
        return finish(start(tmp, javaOpts, args), args);
    }

    /** Waits until {@code text} shows in {@code file}, while {@code p} runs. */
    private static void await(Path file, String text, Process p) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.readString(file).contains(text)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("never saw '" + text + "' in " + file + ":\n" + Files.readString(file));
            }
            Thread.sleep(100);
        }
    }

    @Test
    public void helpListsTheCommands() throws Exception {
        Path tmp = temporary.getRoot().toPath();
        Run r = run(tmp, "", "--help");
        assertEquals(r.err(), 0, r.code());
        assertTrue(r.out(), r.out().startsWith("Usage: diffuse"));
        assertTrue(r.out(), r.out().contains("info"));
        assertNoFrameworkStorageLeft(tmp);
    }

    @Test
    public void infoListsInstalledPluginsWithTheirBundles() throws Exception {
        Path tmp = temporary.getRoot().toPath();
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
        Path tmp = temporary.getRoot().toPath();
        Run r = run(tmp, "", "info", "-C", "parallel.ulysses=3");
        assertEquals(1, r.code());
        assertTrue(r.err(), r.err().startsWith("error: invalid configuration diffuse.parallel"));
        assertEquals(r.err(), 1, r.err().lines().count());
    }

    @Test
    public void killingTheLauncherStopsItsRanksBeforeTheyWriteAnything() throws Exception {
        Path tmp = temporary.getRoot().toPath();
        Path video = tmp.resolve("fox.mp4");
        // The built-in demo runs on 2 ranks by default.
        Started s = start(tmp, "", "generate", "--prompt", "a fox", "--num-inference-steps", "200",
                "--output", video.toString());
        List<ProcessHandle> ranks = List.of();
        try {
            await(s.errFile(), "[rank 0] denoise [", s.process());
            ranks = s.process().descendants().toList();
            assertEquals(ranks.toString(), 2, ranks.size());

            s.process().destroyForcibly(); // SIGKILL, as the OOM killer would
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < deadline && ranks.stream().anyMatch(ProcessHandle::isAlive)) {
                Thread.sleep(50);
            }
            assertFalse("ranks still running 5 s after the launcher was killed",
                    ranks.stream().anyMatch(ProcessHandle::isAlive));
        } finally {
            ranks.forEach(ProcessHandle::destroyForcibly);
        }
        try (Stream<Path> files = Files.list(tmp)) {
            List<Path> written = files.filter(p -> p.getFileName().toString().contains("fox.mp4")).toList();
            assertTrue("the ranks wrote " + written, written.isEmpty());
        }
        // SIGKILL and halt run no shutdown hooks: the framework storage of all three is left; the next start removes it.
        assertFalse(frameworkTemporaries(tmp).isEmpty());
        Run help = run(tmp, "", "--help");
        assertEquals(help.err(), 0, help.code());
        assertNoFrameworkStorageLeft(tmp);
    }

    @Test
    public void aKilledRankLeavesNoTemporaryFoldersAndStdoutHasOnlyTheCommandsOutput() throws Exception {
        Path tmp = temporary.getRoot().toPath();
        Run ok = run(tmp, "", "comm-check", "--nproc", "2", "--size", "4096", "--iterations", "1");
        assertEquals(ok.err(), 0, ok.code());
        assertTrue(ok.out(), ok.out().contains("[rank 0] comm-check passed"));
        // Gloo's native "[Gloo] Rank k is connected ..." lines: never on stdout, and dropped below INFO.
        assertTrue(ok.out(), ok.out().lines().allMatch(l -> l.matches("\\[rank [01]\\] .*") && !l.contains("[Gloo]")));
        assertFalse(ok.err(), ok.err().contains("[Gloo] Rank 1 is connected"));
        assertNoFrameworkStorageLeft(tmp);

        Started s = start(tmp, "", "comm-check", "--nproc", "2", "--size", "4096", "--iterations", "1000000", "--timeout", "20s");
        await(s.outFile(), "[rank 1] rank 1 groups ready", s.process());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\[launcher\\] rank 1 started, pid (\\d+)").matcher(s.err());
        assertTrue(s.err(), m.find());
        ProcessHandle.of(Long.parseLong(m.group(1))).orElseThrow().destroyForcibly();
        Run r = finish(s);
        assertEquals(r.err(), 1, r.code());
        assertTrue(r.err(), r.err().contains("error: rank 1 was killed by signal 9 (SIGKILL, exit code 137)"));
        assertNoFrameworkStorageLeft(tmp);
    }

    @Test
    public void severalStartingTogetherOnAnEmptyNativeCacheDoNotCrash() throws Exception {
        for (int trial = 0; trial < 2; trial++) {
            Path tmp = temporary.newFolder("trial" + trial).toPath();
            // A fresh cache (never ~/.javacpp): every start is a first start.
            String cache = "-Dorg.bytedeco.javacpp.cachedir=" + tmp.resolve("javacpp-cache");
            List<Started> all = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                all.add(start(tmp, cache, "info"));
            }
            for (Started s : all) {
                Run r = finish(s, "info");
                assertEquals("trial " + trial + ": " + r.err(), 0, r.code());
            }
            try (Stream<Path> files = Files.list(tmp)) {
                List<Path> crashes = files.filter(p -> p.getFileName().toString().startsWith("hs_err_pid")).toList();
                assertTrue("trial " + trial + ": JVM crash logs " + crashes, crashes.isEmpty());
            }
        }
    }

    @Test
    public void cudaOnACpuBuildIsOneLineBeforeAnyRankStarts() throws Exception {
        Path tmp = temporary.getRoot().toPath();
        Run r = run(tmp, "", "generate", "--device", "cuda", "--prompt", "a fox", "--output",
                tmp.resolve("fox.mp4").toString());
        assertEquals(r.err(), 1, r.code());
        assertEquals(r.err(), 1, r.err().lines().count());
        assertTrue(r.err(), r.err().startsWith("error: device cuda (--device, diffuse.device) needs libtorch's CUDA natives")
                && r.err().contains("-Pcuda"));
        assertEquals("", r.out());
    }

    @Test
    public void theLauncherOfRanksLoadsNoNativesAndTheRanksDo() throws Exception {
        Path tmp = temporary.getRoot().toPath();
        // Every JVM of the run (launcher and ranks) logs the classes it loads to class-<pid>.log.
        Started s = start(tmp, "-Xlog:class+load=info:file=" + tmp.resolve("class-%p.log"), "generate", "--nproc", "2",
                "--num-inference-steps", "1", "--prompt", "a fox", "--output", tmp.resolve("fox.mp4").toString());
        Run r = finish(s);
        assertEquals(r.err(), 0, r.code());
        String launcher = Files.readString(tmp.resolve("class-" + s.process().pid() + ".log"));
        assertTrue("the launcher ran the checks and the ranks", launcher.contains("io.diffuse.core.launch.LocalLauncher "));
        assertFalse("the launcher loaded libtorch", launcher.contains("org.bytedeco.pytorch.global.torch "));
        assertFalse("the launcher loaded FFmpeg", launcher.contains("org.bytedeco.ffmpeg.global.avformat "));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\[launcher\\] rank (\\d) started, pid (\\d+)").matcher(r.err());
        int ranks = 0;
        while (m.find()) {
            ranks++;
            String rank = Files.readString(tmp.resolve("class-" + m.group(2) + ".log"));
            assertTrue("rank " + m.group(1) + " loaded libtorch", rank.contains("org.bytedeco.pytorch.global.torch "));
        }
        assertEquals(r.err(), 2, ranks);
    }

    @Test
    public void aCudaOnlyAttentionBackendOnCpuIsOneLineBeforeAnyRankStarts() throws Exception {
        Path tmp = temporary.getRoot().toPath();
        Run r = run(tmp, "", "generate", "--nproc", "2", "-C", "attention.backend=cudnn", "--prompt", "a fox", "--output",
                tmp.resolve("fox.mp4").toString());
        assertEquals(r.err(), 1, r.code());
        assertEquals(r.err(), 1, r.err().lines().count());
        assertEquals(r.err(), "error: invalid configuration diffuse.attention.backend = 'cudnn': runs only on CUDA "
                + "(diffuse.device = cpu); on cpu use auto, flash or math", r.err().strip());
        assertEquals("", r.out());
        assertFalse(Files.exists(tmp.resolve("fox.mp4")));
    }

    /** Framework storage ({@code diffuse-felix-*}) and FileInstall temporaries ({@code fileinstall-*}) in {@code tmp}. */
    private static List<Path> frameworkTemporaries(Path tmp) throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.filter(p -> p.getFileName().toString().startsWith("diffuse-felix-")
                    || p.getFileName().toString().startsWith("fileinstall")).toList();
        }
    }

    private static void assertNoFrameworkStorageLeft(Path tmp) throws IOException {
        List<Path> left = frameworkTemporaries(tmp);
        assertTrue("framework storage left behind: " + left, left.isEmpty());
    }
}
