package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code diffuse serve} with its ranks started the torchrun way (RANK, WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT; no Diffuse launcher), where each rank's host may have different plugins: rank 1 runs
 * without the third-party "allgather" strategy on its class path. A request naming that strategy is
 * refused before it is queued, naming the strategy and the rank; other requests run; SIGTERM of rank 0
 * stops both ranks with exit 0.
 */
class ServeUnderTorchrunTest {
    @TempDir
    Path tmp;

    @Test
    void aStrategyOneRankLacksIsRefusedNamingTheRankAndTheRestRuns() throws Exception {
        int httpPort = ServeProcess.freePort();
        int masterPort = ServeProcess.freePort();
        String classPath = System.getProperty("java.class.path");
        String withoutAllGather = Arrays.stream(classPath.split(File.pathSeparator))
                .filter(entry -> !entry.contains("itest-allgather")).collect(Collectors.joining(File.pathSeparator));
        assertTrue(!withoutAllGather.equals(classPath), "the allgather strategy is not on the test's class path");
        Process rank0 = rank(0, classPath, httpPort, masterPort);
        Process rank1 = rank(1, withoutAllGather, httpPort, masterPort);
        try {
            long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (!Files.readString(tmp.resolve("rank0.out")).contains("diffuse serve: ready")) {
                assertTrue(rank0.isAlive() && rank1.isAlive() && System.nanoTime() < deadline, output());
                Thread.sleep(100);
            }
            String base = "http://127.0.0.1:" + httpPort;
            HttpResponse<String> refused = post(base, Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5,
                    "num_inference_steps", 2, "parallel", Map.of("strategy", "allgather")));
            assertEquals(400, refused.statusCode(), refused.body());
            Map<?, ?> error = (Map<?, ?>) ServeProcess.JSON.readValue(refused.body(), Map.class).get("error");
            assertEquals("parallel", error.get("param"), error.toString());
            assertTrue(String.valueOf(error.get("message")).contains("parallel strategy 'allgather' is not installed on rank 1"),
                    error.toString());

            HttpResponse<String> accepted = post(base, Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5,
                    "num_inference_steps", 2));
            assertEquals(200, accepted.statusCode(), accepted.body());
            String id = (String) ServeProcess.JSON.readValue(accepted.body(), Map.class).get("id");
            Map<?, ?> job = Map.of();
            while (System.nanoTime() < deadline && !List.of("completed", "failed").contains(String.valueOf(job.get("status")))) {
                Thread.sleep(100);
                job = ServeProcess.JSON.readValue(http.send(HttpRequest.newBuilder(URI.create(base + "/v1/videos/" + id))
                        .build(), HttpResponse.BodyHandlers.ofString()).body(), Map.class);
            }
            assertEquals("completed", job.get("status"), job + "\n" + output());

            rank0.toHandle().destroy(); // SIGTERM: rank 0 drains and orders rank 1 to stop
            assertTrue(rank0.waitFor(60, TimeUnit.SECONDS) && rank1.waitFor(60, TimeUnit.SECONDS), output());
            assertEquals(0, rank0.exitValue(), output());
            assertEquals(0, rank1.exitValue(), output());
        } finally {
            rank0.destroyForcibly();
            rank1.destroyForcibly();
        }
    }

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> post(String base, Object body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/videos")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(ServeProcess.JSON.writeValueAsBytes(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private Process rank(int rank, String classPath, int httpPort, int masterPort) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                classPath, Cli.class.getName(), "serve", "--port", Integer.toString(httpPort), "--output-dir",
                tmp.resolve("out").toString(), "--threads", "1"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(tmp.resolve("rank" + rank + ".out").toFile())
                .redirectError(tmp.resolve("rank" + rank + ".err").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_") || k.startsWith("TORCHELASTIC_"));
        pb.environment().putAll(Map.of("RANK", Integer.toString(rank), "LOCAL_RANK", Integer.toString(rank), "WORLD_SIZE",
                "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(masterPort)));
        return pb.start();
    }

    private String output() throws Exception {
        StringBuilder b = new StringBuilder();
        for (String f : List.of("rank0.out", "rank0.err", "rank1.out", "rank1.err")) {
            Path p = tmp.resolve(f);
            b.append("--- ").append(f).append('\n').append(Files.exists(p) ? Files.readString(p) : "").append('\n');
        }
        return b.toString();
    }
}
