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
}
