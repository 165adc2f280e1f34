package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's own port, as a user meets it: a port another process holds is one line naming the
 * address and the process, before any rank starts, and no restart; {@code --port 0} picks a port once,
 * and the ranks a rank failure restarts listen on it again.
 */
class ServePortTest {
    private static final Pattern LISTENING = Pattern.compile("listening on http://[0-9.]+:(\\d+)");

    @TempDir
    Path tmp;

    @Test
    void aPortInUseIsOneLineNamingTheAddressAndItsHolderWithNoRankStartedAndNoRestart() throws Exception {
        try (ServerSocket held = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = held.getLocalPort();
            try (ServeProcess serve = new ServeProcess(port, tmp, Map.of())) {
                assertTrue(serve.launcher.waitFor(2, TimeUnit.MINUTES), "serve did not exit\n" + serve.output());
                Thread.sleep(200); // the output pumps
                String output = serve.output();
                assertNotEquals(0, serve.launcher.exitValue(), output);
                List<String> errors = output.lines().filter(l -> l.startsWith("error:")).toList();
                assertEquals(List.of("error: cannot listen on 127.0.0.1:" + port + ": the address is in use by pid "
                        + ProcessHandle.current().pid() + " (java); stop it or choose another --port (0 = any free port)"),
                        errors, output);
                assertFalse(output.contains("[launcher] rank"), "no rank was started\n" + output);
                assertFalse(output.contains("restarting"), output);
                assertFalse(output.contains("\tat "), "no trace\n" + output);
            }
        }
    }

    /**
     * The port is free when the launcher checks it and taken before rank 0 listens (here: bound by this
     * test once rank 0's process exists): rank 0 names the holder and the launcher does not restart.
     */
    @Test
    void aPortTakenAfterTheLaunchersCheckStopsTheServerWithoutARestart() throws Exception {
        int port = ServeProcess.freePort();
        try (ServeProcess serve = new ServeProcess(port, tmp, Map.of())) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (!serve.output().contains("[launcher] rank 0 started") && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            ServerSocket held;
            try {
                held = new ServerSocket(port, 1, InetAddress.getLoopbackAddress());
            } catch (java.net.BindException rank0WasFaster) {
                org.junit.jupiter.api.Assumptions.abort("rank 0 bound port " + port + " before this test could take it");
                return;
            }
            try (held) {
                assertTrue(serve.launcher.waitFor(2, TimeUnit.MINUTES), "serve did not exit\n" + serve.output());
                Thread.sleep(200); // the output pumps
                String output = serve.output();
                assertNotEquals(0, serve.launcher.exitValue(), output);
                assertTrue(output.lines().anyMatch(l -> l.startsWith("[rank 0] error: cannot listen on 127.0.0.1:" + port
                        + ": the address is in use by pid " + ProcessHandle.current().pid() + " (java)")), output);
                assertFalse(output.contains("restarting"), output);
            }
        }
    }

    @Test
    void withPortZeroTheRanksRestartedAfterARankIsKilledListenOnTheSamePort() throws Exception {
        try (ServeProcess serve = new ServeProcess(0, tmp, Map.of())) {
            serve.awaitReady(Duration.ofMinutes(3));
            String base = serve.base;
            long rank1 = serve.rankPid(1);
            ProcessHandle.of(rank1).orElseThrow().destroyForcibly();
            serve.awaitReady(Duration.ofMinutes(3), 2);
            String output = serve.output();
            assertTrue(output.contains("restarting the ranks (restart 1 of 3)"), output);
            Matcher m = LISTENING.matcher(output);
            List<String> ports = m.results().map(r -> r.group(1)).toList();
            assertEquals(2, ports.size(), output);
            assertEquals(ports.get(0), ports.get(1), "the restarted rank 0 listens where clients know the server\n" + output);
            assertEquals(base, serve.base);
            assertEquals(200, serve.get("/ready").statusCode(), output);
            Map<String, Object> job = ServeProcess.json(serve.postJson("/v1/videos", Map.of("prompt", "a dog", "size", "64x64",
                    "num_frames", 5, "num_inference_steps", 2)));
            assertEquals("completed", serve.awaitEnd((String) job.get("id"), Duration.ofMinutes(1)).get("status"), output);
        }
    }
}
