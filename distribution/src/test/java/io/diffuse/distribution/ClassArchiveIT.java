package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * bin/diffuse's class archive (AppCDS), as a user meets it: the first start of an installation makes
 * one archive in the cache folder, later starts (and the rank JVMs the launcher spawns) load their
 * classes from it, and JAVA_OPTS -Xshare:off leaves class sharing alone.
 */
public class ClassArchiveIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");
    /** What -Xlog:class+load prints for a class read from the dynamic (top) archive. */
    private static final String LAUNCHER_FROM_ARCHIVE = "io.diffuse.launcher.Main source: shared objects file (top)";

    @Rule
    public TemporaryFolder temporary = new TemporaryFolder();

    private record Run(int code, String out, String err) {
    }

    private static Run run(Path cache, String javaOpts, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(DIFFUSE.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(cache.getParent(), "out", ".txt");
        Path err = Files.createTempFile(cache.getParent(), "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        Map<String, String> env = pb.environment();
        env.put("XDG_CACHE_HOME", cache.toString());
        env.put("JAVA_OPTS", "-Djava.io.tmpdir=" + cache.getParent() + " " + javaOpts);
        env.put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("bin/diffuse " + String.join(" ", args) + " did not finish in 180s");
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static List<Path> archives(Path cache) throws IOException {
        Path dir = cache.resolve("diffuse");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".jsa")).toList();
        }
    }

    @Test
    public void firstStartMakesTheArchiveAndLaterStartsAndRanksUseIt() throws Exception {
        Path cache = temporary.newFolder("cache").toPath();
        Run first = run(cache, "", "--version");
        assertEquals(first.err(), 0, first.code());
        assertTrue(first.out(), first.out().startsWith("Diffuse "));
        List<Path> made = archives(cache);
        assertEquals("one archive after the first start: " + made, 1, made.size());
        assertTrue(made.get(0) + " is empty", Files.size(made.get(0)) > 1_000_000);
        try (Stream<Path> s = Files.list(cache.resolve("diffuse"))) {
            assertTrue("no temporary or failure marker left", s.noneMatch(f -> f.toString().endsWith(".tmp")
                    || f.toString().endsWith(".failed")));
        }

        Run second = run(cache, "-Xlog:class+load", "--version");
        assertEquals(second.err(), 0, second.code());
        assertTrue("the launcher's classes come from the archive:\n" + tail(second.out()), second.out().contains(LAUNCHER_FROM_ARCHIVE));
        assertEquals("the second start reuses the archive", made, archives(cache));
        Run info = run(cache, "", "info");
        assertEquals(info.err(), 0, info.code());
        assertTrue(info.out(), info.out().contains("jvm start  C1 only, class archive " + made.get(0)));

        // Rank JVMs get the launcher's JVM options, the archive among them.
        Run ranks = run(cache, "-Xlog:class+load", "comm-check", "--nproc", "2", "--size", "4096", "--iterations", "1");
        assertEquals(ranks.err(), 0, ranks.code());
        for (int rank = 0; rank < 2; rank++) {
            String prefix = "[rank " + rank + "]";
            assertTrue(prefix + " loads its classes from the archive:\n" + tail(ranks.out()),
                    ranks.out().lines().anyMatch(l -> l.startsWith(prefix) && l.contains(LAUNCHER_FROM_ARCHIVE)));
        }
    }

    /** Ranks under torchrun start together on an empty cache: one makes the archive, none fails or waits on a half-written one. */
    @Test
    public void processesStartingTogetherOnAnEmptyCacheAllRunAndLeaveOneArchive() throws Exception {
        Path cache = temporary.newFolder("cache").toPath();
        List<java.util.concurrent.CompletableFuture<Run>> starts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            starts.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return run(cache, "", "--version");
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (java.util.concurrent.CompletableFuture<Run> start : starts) {
            Run r = start.get(200, TimeUnit.SECONDS);
            assertEquals(r.err(), 0, r.code());
            assertTrue(r.out(), r.out().startsWith("Diffuse "));
        }
        assertEquals(1, archives(cache).size());
        try (Stream<Path> s = Files.list(cache.resolve("diffuse"))) {
            assertTrue("no temporary left", s.noneMatch(f -> f.toString().endsWith(".tmp")));
        }
    }

    @Test
    public void shareOffInJavaOptsLeavesClassSharingAlone() throws Exception {
        Path cache = temporary.newFolder("cache").toPath();
        Run r = run(cache, "-Xshare:off -Xlog:class+load", "--version");
        assertEquals(r.err(), 0, r.code());
        assertEquals(List.of(), archives(cache));
        assertTrue(tail(r.out()), r.out().contains("io.diffuse.launcher.Main source: file:"));
        Run info = run(cache, "-Xshare:off", "info");
        assertTrue(info.out(), info.out().contains("jvm start  C1 only, class sharing off"));
        assertEquals(List.of(), archives(cache));
    }

    private static String tail(String text) {
        return text.length() > 3000 ? text.substring(text.length() - 3000) : text;
    }
}
