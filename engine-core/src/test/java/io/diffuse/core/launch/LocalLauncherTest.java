package io.diffuse.core.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Exit descriptions, port picking, and ranks dying with a killed launcher (real processes of the
 * class-path host); the rest of the launch is exercised by CommCheckCommandTest.
 */
class LocalLauncherTest {
    @Test
    void ranksDieWithTheirLauncherWhenItIsKilled() throws Exception {
        // A launcher whose two ranks would run their collectives for minutes.
        Process launcher = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), "io.diffuse.core.cli.Cli", "comm-check", "--nproc", "2",
                "--size", "4096", "--iterations", "1000000", "--timeout", "60s")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        CountDownLatch ready = new CountDownLatch(2);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.matches("\\[rank \\d\\] rank \\d groups ready.*")) {
                        ready.countDown();
                    }
                }
            } catch (java.io.IOException e) {
                // the launcher is gone
            }
        });
        reader.setDaemon(true);
        reader.start();
        List<ProcessHandle> ranks = List.of();
        try {
            assertTrue(ready.await(60, TimeUnit.SECONDS), "the ranks never got their groups");
            ranks = launcher.descendants().toList();
            assertEquals(2, ranks.size(), "rank processes: " + ranks);

            launcher.destroyForcibly(); // SIGKILL: no shutdown hook of the launcher runs
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < deadline && ranks.stream().anyMatch(ProcessHandle::isAlive)) {
                Thread.sleep(50);
            }
            assertFalse(ranks.stream().anyMatch(ProcessHandle::isAlive), "ranks still running 5 s after the launcher was killed: "
                    + ranks.stream().filter(ProcessHandle::isAlive).toList());
        } finally {
            launcher.destroyForcibly();
            ranks.forEach(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void tellsAStoppedProcess() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "30").start();
        try {
            assertFalse(LocalLauncher.isStopped(sleeper.pid()));
            new ProcessBuilder("kill", "-STOP", Long.toString(sleeper.pid())).start().waitFor();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!LocalLauncher.isStopped(sleeper.pid()) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(LocalLauncher.isStopped(sleeper.pid()));
        } finally {
            sleeper.destroyForcibly();
        }
    }

    @Test
    void describesSignalsAndExitCodes() {
        assertEquals("rank 2 was killed by signal 9 (SIGKILL, exit code 137)", LocalLauncher.describeExit(2, 137));
        assertEquals("rank 0 was killed by signal 15 (SIGTERM, exit code 143)", LocalLauncher.describeExit(0, 143));
        assertEquals("rank 1 exited with code 1", LocalLauncher.describeExit(1, 1));
    }

    @Test
    void unpacksTheFfmpegNativesBeforeSpawning() {
        LocalLauncher.preloadVideoNatives();
        String loaded = org.bytedeco.javacpp.Loader.getLoadedLibraries().keySet().toString();
        for (String lib : new String[] {"jniavformat", "jniavcodec", "jniswscale"}) {
            assertTrue(loaded.contains(lib), lib + " not loaded: " + loaded);
        }
    }

    @Test
    void picksAFreePort() {
        int port = LocalLauncher.freePort("127.0.0.1");
        assertTrue(port > 0 && port < 65536);
    }

    /**
     * A port picked free can be taken by another process before rank 0 binds it: the launcher then
     * starts the ranks again on a new port (up to 3 times), without counting it as a restart. The ranks
     * here are shell scripts standing in for the rank command: rank 0 fails its first two starts with
     * the store's own message, as StoreServer words it.
     */
    @Test
    void startsTheRanksAgainOnAnotherPortWhenTheRendezvousPortWasTaken(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        String script = "if [ \"$RANK\" = 0 ] && [ $(ls " + tmp + " | wc -l) -lt 2 ]; then touch " + tmp
                + "/attempt-$MASTER_PORT; echo \"error: " + io.diffuse.core.distributed.StoreServer.PORT_TAKEN
                + " 127.0.0.1:$MASTER_PORT: Address already in use\" >&2; exit 1; fi; echo \"port $MASTER_PORT\"";
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = LocalLauncher.launch(List.of("sh", "-c", script), 2, "127.0.0.1", 0, java.time.Duration.ofSeconds(30),
                new java.io.PrintWriter(out), new java.io.PrintWriter(err));
        assertEquals(0, code, out + "\n" + err);
        assertEquals(2, err.toString().split("was taken before rank 0 could bind it", -1).length - 1, err.toString());
        List<String> ports = out.toString().lines().filter(l -> l.startsWith("[rank 0] port ")).toList();
        assertEquals(1, ports.size(), out.toString());
        // The third start used a port neither failed start had.
        String port = ports.get(0).substring("[rank 0] port ".length());
        assertFalse(java.nio.file.Files.exists(tmp.resolve("attempt-" + port)), out + "\n" + err);
        assertFalse(err.toString().contains("restarting the ranks"), err.toString());
    }

    @Test
    void aRankThatFailsForAnotherReasonIsNotStartedAgain() {
        java.io.StringWriter err = new java.io.StringWriter();
        int code = LocalLauncher.launch(List.of("sh", "-c", "[ \"$RANK\" = 0 ] && { echo 'error: boom' >&2; exit 3; }; sleep 30"),
                2, "127.0.0.1", 0, java.time.Duration.ofSeconds(30), new java.io.PrintWriter(new java.io.StringWriter()),
                new java.io.PrintWriter(err));
        assertEquals(1, code);
        assertTrue(err.toString().contains("rank 0 exited with code 3"), err.toString());
        assertFalse(err.toString().contains("was taken"), err.toString());
    }
}
