package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.diffuse.core.cli.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code diffuse bench serve} as a user runs it: its own JVM against a real {@code diffuse serve}
 * (demo, 2 ranks, an API key) on loopback. The report's counts and latencies are checked against
 * the jobs the server kept.
 */
class ServeBenchTest {
    private static final String KEY = "bench-test-key";
    private static final String[] TINY = {"--size", "64x64", "--frames", "5", "--steps", "2", "--seed", "7"};

    @TempDir
    static Path tmp;
    static ServeProcess serve;

    @BeforeAll
    static void start() throws Exception {
        serve = new ServeProcess(tmp.resolve("out"), Map.of("DIFFUSE_SERVE_API__KEYS", KEY)).awaitReady(Duration.ofMinutes(3));
        serve.apiKey = KEY;
    }

    @AfterAll
    static void stop() throws Exception {
        if (serve != null) {
            serve.close();
        }
    }

    @Test
    void concurrencyTwoCountsEveryRequestAndItsLatencyAgreesWithTheJob() throws Exception {
        Path result = tmp.resolve("c2.json");
        Run run = bench("--url", serve.base, "--api-key", KEY, "-n", "3", "--concurrency", "2", "--result-json",
                result.toString(), TINY[0], TINY[1], TINY[2], TINY[3], TINY[4], TINY[5], TINY[6], TINY[7]);
        assertEquals(0, run.exit, run.output);
        assertTrue(run.output.contains("requests 3: 3 completed, 0 failed"), run.output);
        assertTrue(run.output.contains("| c2 | 3 | 3 | 0 |"), run.output);
        JsonNode r = ServeProcess.JSON.readTree(result.toFile());
        assertEquals(3, r.get("completed").asInt());
        assertEquals(0, r.get("failed").asInt());
        assertEquals(2, r.get("concurrency").asInt());
        assertTrue(r.get("videos_per_minute").asDouble() > 0);
        agreesWithTheServersJobs(r, 3);
    }

    @Test
    void poissonArrivalsAreSeededAndEveryRequestCompletes() throws Exception {
        Path result = tmp.resolve("rate.json");
        Run run = bench("--url", serve.base, "--api-key", KEY, "-n", "3", "--request-rate", "4", "--arrival-seed", "11",
                "--result-json", result.toString(), TINY[0], TINY[1], TINY[2], TINY[3], TINY[4], TINY[5]);
        assertEquals(0, run.exit, run.output);
        assertTrue(run.output.contains("requests 3: 3 completed, 0 failed"), run.output);
        JsonNode r = ServeProcess.JSON.readTree(result.toFile());
        assertEquals(4.0, r.get("request_rate").asDouble());
        // The arrival times come from the seed (exponential gaps of mean 1/rate), not from the clock.
        java.util.Random random = new java.util.Random(11);
        double expected = 0;
        for (int i = 0; i < 3; i++) {
            JsonNode one = r.get("per_request").get(i);
            if (i > 0) {
                expected -= Math.log(1 - random.nextDouble()) / 4;
            }
            assertEquals(expected, one.get("scheduled_s").asDouble(), 1e-9);
            assertTrue(one.get("sent_s").asDouble() >= expected, one.toString());
        }
        agreesWithTheServersJobs(r, 3);
    }

    @Test
    void aRefusedRequestIsAFailureInTheReportNotACrash() throws Exception {
        Path result = tmp.resolve("refused.json");
        Run run = bench("--url", serve.base, "--api-key", KEY, "-n", "2", "--concurrency", "2", "--size", "64x64",
                "--frames", "10", "--steps", "2", "--result-json", result.toString());
        assertEquals(0, run.exit, run.output);
        assertTrue(run.output.contains("requests 2: 0 completed, 2 failed"), run.output);
        assertTrue(run.output.contains("failed 2: HTTP 400"), run.output);
        assertTrue(run.output.contains("not 4k+1"), run.output);
        JsonNode r = ServeProcess.JSON.readTree(result.toFile());
        assertEquals(2, r.get("failed").asInt());
        for (JsonNode one : r.get("per_request")) {
            assertFalse(one.get("completed").asBoolean());
            assertEquals(400, one.get("http_status").asInt());
        }
        assertTrue(r.get("latency_s").get("p50").isNull(), r.toString());
    }

    @Test
    void aWrongApiKeyIsOneLineAndANonZeroExit() throws Exception {
        Run run = bench("--url", serve.base, "--api-key", "not-the-key", "-n", "1");
        assertNotEquals(0, run.exit, run.output);
        assertOneErrorLine(run, "refused the API key (401)");
    }

    @Test
    void anUnreachableServerIsOneLineAndANonZeroExit() throws Exception {
        int port = ServeProcess.freePort();
        Run run = bench("--url", "http://127.0.0.1:" + port, "-n", "1");
        assertNotEquals(0, run.exit, run.output);
        assertOneErrorLine(run, "cannot reach http://127.0.0.1:" + port);
    }

    @Test
    void aBadUrlIsOneLineAndANonZeroExit() throws Exception {
        Run run = bench("--url", "127.0.0.1:8000", "-n", "1");
        assertNotEquals(0, run.exit, run.output);
        assertOneErrorLine(run, "--url 127.0.0.1:8000 is not");
    }

    /** Each completed request is a completed job of the server, and the report's times fit the job's own. */
    private static void agreesWithTheServersJobs(JsonNode r, int expected) throws Exception {
        List<Double> latencies = new ArrayList<>();
        for (JsonNode one : r.get("per_request")) {
            assertTrue(one.get("completed").asBoolean(), one.toString());
            assertTrue(one.get("video_bytes").asLong() > 0, one.toString());
            Map<String, Object> job = ServeProcess.json(serve.get("/v1/videos/" + one.get("id").asText()));
            assertEquals("completed", job.get("status"));
            double queue = ((Number) job.get("queue_seconds")).doubleValue();
            assertEquals(queue, one.get("queue_wait_s").asDouble(), 1e-9, one.toString());
            long created = ((Number) job.get("created_at")).longValue();
            long started = ((Number) job.get("started_at")).longValue();
            long completed = ((Number) job.get("completed_at")).longValue();
            assertTrue(created <= started && started <= completed, job.toString());
            // The job was created after the request was sent (whole seconds on the server's clock, the
            // same clock here), and the client saw its end no earlier than the server's own timestamps say.
            long sentSecond = one.get("sent_at_ms").asLong() / 1000;
            assertTrue(created >= sentSecond, one + " vs " + job);
            double latency = one.get("latency_s").asDouble();
            assertTrue(latency + 1 >= completed - created, one + " vs " + job);
            assertTrue(latency >= queue, one + " vs " + job);
            double stages = 0;
            for (Object s : ((Map<?, ?>) job.get("stage_seconds")).values()) {
                stages += ((Number) s).doubleValue();
            }
            assertTrue(latency >= queue + stages, one + " vs " + job);
            latencies.add(latency);
        }
        assertEquals(expected, latencies.size());
        JsonNode lat = r.get("latency_s");
        double max = latencies.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        double min = latencies.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        assertTrue(lat.get("p50").asDouble() >= min && lat.get("p99").asDouble() <= max, r.toString());
        assertNotNull(r.get("queue_wait_s").get("p95"));
    }

    private static void assertOneErrorLine(Run run, String contains) {
        List<String> lines = run.output.lines().filter(l -> !l.isBlank()).toList();
        assertEquals(1, lines.size(), run.output);
        assertTrue(lines.get(0).startsWith("error: ") && lines.get(0).contains(contains), run.output);
    }

    private record Run(int exit, String output) {
    }

    /** {@code diffuse bench serve ARGS} in its own JVM (the class-path host), stdout and stderr together. */
    private static Run bench(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), Cli.class.getName(), "bench", "serve"));
        command.addAll(List.of(args));
        Path log = Files.createTempFile(tmp, "bench", ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("bench serve did not end in 5 minutes\n" + Files.readString(log));
        }
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }
}
