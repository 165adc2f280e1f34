package io.diffuse.core.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

/**
 * A load run against a {@code diffuse serve} through its HTTP API, as {@code vllm bench serve} does
 * for LLM servers: N requests sent at a fixed concurrency or at Poisson arrivals (seeded), each one
 * created ({@code POST /v1/videos}), polled to its end and downloaded ({@code /content}). What each
 * request saw is kept ({@link Outcome}) and summed up ({@link #summary}).
 */
final class ServeLoad {
    static final ObjectMapper JSON = new ObjectMapper();

    /** What to send and how. {@code rate} is requests per second (infinite: all at once, held to {@code concurrency}). */
    record Plan(URI base, String apiKey, Map<String, Object> body, int requests, int concurrency, double rate, long arrivalSeed,
            Duration pollInterval, Duration requestTimeout, boolean download) {
    }

    /**
     * One request as the client saw it, with the job's own timestamps. Seconds are from the run's start
     * (client clock); {@code latency} runs from sending the POST to the end (the MP4 read, or the failure
     * seen); {@code queue} is the server's own queue wait ({@code queue_seconds} of the job).
     */
    record Outcome(int index, double scheduled, double sent, Double latency, Double queue, String id, boolean completed,
            int httpStatus, String error, long sentEpochMillis, long videoBytes, JsonNode job) {
    }

    private final Plan plan;
    private final HttpClient http;

    /** A body template file: one JSON object (its fields in order). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> readBody(java.nio.file.Path file) {
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new DiffuseException("--body " + file + " does not exist or is not a file");
        }
        JsonNode read;
        try {
            read = JSON.readTree(java.nio.file.Files.readAllBytes(file));
        } catch (IOException e) {
            throw new DiffuseException("--body " + file + " cannot be read as JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (!(read instanceof ObjectNode)) {
            throw new DiffuseException("--body " + file + " is not a JSON object; give e.g. {\"prompt\": \"a cat\", \"size\": \"64x64\"}");
        }
        return JSON.convertValue(read, LinkedHashMap.class);
    }

    /** Writes the summary as indented JSON. */
    static void writeResult(java.nio.file.Path file, Map<String, Object> summary) throws IOException {
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), summary);
    }

    ServeLoad(Plan plan) {
        this.plan = plan;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** Fails with one line when the server cannot be reached or refuses the key, before any load is sent. */
    void checkReachable() {
        HttpResponse<String> r;
        try {
            r = http.send(request("/v1/models").GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new DiffuseException("cannot reach " + plan.base() + " (" + describe(e)
                    + "); start `diffuse serve` there or pass --url of a running server");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DiffuseException("interrupted");
        }
        if (r.statusCode() == 401) {
            throw new DiffuseException(plan.base() + " refused the API key (401): pass the server's key with --api-key"
                    + " or DIFFUSE_BENCH_API_KEY");
        }
        if (r.statusCode() != 200) {
            throw new DiffuseException(plan.base() + "/v1/models answered " + r.statusCode()
                    + ": is --url a diffuse serve (or another /v1/videos server)?");
        }
    }

    /** Sends every request (after the arrival schedule and the concurrency limit) and waits for all of them. */
    List<Outcome> run() throws InterruptedException {
        double[] arrivals = arrivals(plan.requests(), plan.rate(), plan.arrivalSeed());
        Semaphore inFlight = new Semaphore(plan.concurrency());
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "bench-request");
            t.setDaemon(true);
            return t;
        });
        long start = System.nanoTime();
        List<Future<Outcome>> futures = new ArrayList<>();
        try {
            for (int i = 0; i < arrivals.length; i++) {
                long wait = start + (long) (arrivals[i] * 1e9) - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                inFlight.acquire();
                int index = i;
                futures.add(pool.submit(() -> {
                    try {
                        return one(index, arrivals[index], start);
                    } finally {
                        inFlight.release();
                    }
                }));
            }
            List<Outcome> outcomes = new ArrayList<>();
            for (Future<Outcome> f : futures) {
                try {
                    outcomes.add(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException("request task failed", e.getCause());
                }
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Arrival times in seconds from the start: all zero at an infinite rate, else a Poisson process
     * (exponential gaps of mean 1/rate from a seeded generator, the first at zero) so runs repeat.
     */
    static double[] arrivals(int n, double rate, long seed) {
        double[] t = new double[n];
        if (Double.isInfinite(rate)) {
            return t;
        }
        Random random = new Random(seed);
        for (int i = 1; i < n; i++) {
            t[i] = t[i - 1] - Math.log(1 - random.nextDouble()) / rate;
        }
        return t;
    }

    private Outcome one(int index, double scheduled, long start) {
        long sentNanos = System.nanoTime();
        long sentEpoch = System.currentTimeMillis();
        double sent = (sentNanos - start) / 1e9;
        String id = null;
        JsonNode job = null;
        try {
            HttpResponse<String> created = http.send(request("/v1/videos").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(plan.body()))).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (created.statusCode() != 200) {
                return failed(index, scheduled, sent, sentNanos, sentEpoch, null, created.statusCode(),
                        errorOf(created.statusCode(), created.body()), null);
            }
            job = JSON.readTree(created.body());
            id = job.path("id").asText();
            long deadline = sentNanos + plan.requestTimeout().toNanos();
            while (!finished(job)) {
                if (System.nanoTime() > deadline) {
                    return failed(index, scheduled, sent, sentNanos, sentEpoch, id, 0,
                            "no end within --request-timeout " + plan.requestTimeout().toSeconds() + " s", job);
                }
                Thread.sleep(plan.pollInterval().toMillis());
                HttpResponse<String> polled = http.send(request("/v1/videos/" + id).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                if (polled.statusCode() != 200) {
                    return failed(index, scheduled, sent, sentNanos, sentEpoch, id, polled.statusCode(),
                            errorOf(polled.statusCode(), polled.body()), job);
                }
                job = JSON.readTree(polled.body());
            }
            if (!"completed".equals(job.path("status").asText())) {
                JsonNode e = job.path("error");
                return failed(index, scheduled, sent, sentNanos, sentEpoch, id, 200,
                        "job failed " + e.path("code").asText("?") + ": " + e.path("message").asText(""), job);
            }
            long bytes = 0;
            if (plan.download()) {
                HttpResponse<byte[]> content = http.send(request("/v1/videos/" + id + "/content").GET().build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (content.statusCode() != 200) {
                    return failed(index, scheduled, sent, sentNanos, sentEpoch, id, content.statusCode(),
                            errorOf(content.statusCode(), new String(content.body(), java.nio.charset.StandardCharsets.UTF_8)),
                            job);
                }
                bytes = content.body().length;
            }
            return new Outcome(index, scheduled, sent, (System.nanoTime() - sentNanos) / 1e9, queueOf(job), id, true, 200,
                    null, sentEpoch, bytes, job);
        } catch (IOException e) {
            return failed(index, scheduled, sent, sentNanos, sentEpoch, id, 0, "connection: " + describe(e), job);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed(index, scheduled, sent, sentNanos, sentEpoch, id, 0, "interrupted", job);
        }
    }

    private static Outcome failed(int index, double scheduled, double sent, long sentNanos, long sentEpoch, String id,
            int status, String error, JsonNode job) {
        return new Outcome(index, scheduled, sent, (System.nanoTime() - sentNanos) / 1e9, job == null ? null : queueOf(job),
                id, false, status, error, sentEpoch, 0, job);
    }

    private static boolean finished(JsonNode job) {
        String s = job.path("status").asText();
        return s.equals("completed") || s.equals("failed");
    }

    private static Double queueOf(JsonNode job) {
        JsonNode q = job.path("queue_seconds");
        return q.isNumber() ? q.asDouble() : null;
    }

    /** "HTTP 400 invalid_request_error: ..." from an OpenAI error body, or the status and the start of the body. */
    private static String errorOf(int status, String body) {
        try {
            JsonNode e = JSON.readTree(body).path("error");
            if (e.isObject()) {
                String code = e.path("code").isTextual() ? e.path("code").asText() : e.path("type").asText("");
                return "HTTP " + status + " " + code + ": " + e.path("message").asText("");
            }
        } catch (IOException notJson) {
            // fall through
        }
        String text = body == null ? "" : body.strip();
        return "HTTP " + status + (text.isEmpty() ? "" : ": " + text.substring(0, Math.min(200, text.length())));
    }

    private static String describe(IOException e) {
        if (e instanceof java.net.ConnectException && e.getMessage() == null) {
            return "connection refused";
        }
        Throwable t = e;
        while (t.getCause() != null && (t.getMessage() == null || t.getMessage().isBlank())) {
            t = t.getCause();
        }
        String message = t.getMessage();
        return t.getClass().getSimpleName() + (message == null || message.isBlank() ? "" : ": " + message);
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(plan.base().resolve(path)).timeout(Duration.ofSeconds(60));
        if (plan.apiKey() != null && !plan.apiKey().isEmpty()) {
            b.header("Authorization", "Bearer " + plan.apiKey());
        }
        return b;
    }

    /**
     * The run summed up, as the result file has it: counts, the run's duration (first send to last end),
     * completed videos per minute, end-to-end latency and queue wait (mean, p50, p95, p99 over completed
     * requests), failures by reason, and every request.
     */
    static Map<String, Object> summary(Plan plan, String label, List<Outcome> outcomes) {
        double duration = outcomes.stream().mapToDouble(o -> o.sent() + o.latency()).max().orElse(0)
                - outcomes.stream().mapToDouble(Outcome::sent).min().orElse(0);
        List<Outcome> done = outcomes.stream().filter(Outcome::completed).toList();
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("label", label);
        s.put("url", plan.base().toString());
        s.put("requests", outcomes.size());
        s.put("completed", done.size());
        s.put("failed", outcomes.size() - done.size());
        s.put("concurrency", plan.concurrency());
        s.put("request_rate", Double.isInfinite(plan.rate()) ? null : plan.rate());
        s.put("arrival_seed", plan.arrivalSeed());
        s.put("body", plan.body());
        s.put("duration_s", duration);
        s.put("videos_per_minute", duration > 0 ? done.size() * 60.0 / duration : 0.0);
        s.put("latency_s", stats(done.stream().mapToDouble(Outcome::latency).toArray()));
        s.put("queue_wait_s", stats(done.stream().filter(o -> o.queue() != null).mapToDouble(Outcome::queue).toArray()));
        Map<String, Integer> reasons = new TreeMap<>();
        outcomes.stream().filter(o -> !o.completed()).forEach(o -> reasons.merge(o.error(), 1, Integer::sum));
        s.put("failures", reasons);
        List<Map<String, Object>> each = new ArrayList<>();
        for (Outcome o : outcomes) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("index", o.index());
            r.put("id", o.id());
            r.put("completed", o.completed());
            r.put("http_status", o.httpStatus());
            r.put("error", o.error());
            r.put("scheduled_s", o.scheduled());
            r.put("sent_s", o.sent());
            r.put("sent_at_ms", o.sentEpochMillis());
            r.put("latency_s", o.latency());
            r.put("queue_wait_s", o.queue());
            r.put("video_bytes", o.videoBytes());
            if (o.job() != null) {
                for (String k : List.of("status", "created_at", "started_at", "completed_at", "plan", "stage_seconds")) {
                    r.put(k, o.job().get(k));
                }
            }
            each.add(r);
        }
        s.put("per_request", each);
        return s;
    }

    /** Mean and the 50th, 95th and 99th percentiles (linear between order statistics, as numpy's default); empty: nulls. */
    static Map<String, Double> stats(double[] values) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (values.length == 0) {
            for (String k : List.of("mean", "p50", "p95", "p99")) {
                m.put(k, null);
            }
            return m;
        }
        double[] v = values.clone();
        Arrays.sort(v);
        m.put("mean", Arrays.stream(v).average().orElseThrow());
        m.put("p50", percentile(v, 50));
        m.put("p95", percentile(v, 95));
        m.put("p99", percentile(v, 99));
        return m;
    }

    static double percentile(double[] sorted, double p) {
        double rank = p / 100 * (sorted.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    /** The summary as a person reads it, ending in one Markdown table row (with its header) for pasting. */
    @SuppressWarnings("unchecked")
    static String report(Map<String, Object> s) {
        StringBuilder b = new StringBuilder();
        Map<String, Double> lat = (Map<String, Double>) s.get("latency_s");
        Map<String, Double> queue = (Map<String, Double>) s.get("queue_wait_s");
        b.append(String.format(Locale.ROOT, "requests %d: %d completed, %d failed, in %.2f s (%s)%n", s.get("requests"),
                s.get("completed"), s.get("failed"), (Double) s.get("duration_s"),
                s.get("request_rate") == null ? "concurrency " + s.get("concurrency")
                        : "Poisson " + s.get("request_rate") + " req/s, seed " + s.get("arrival_seed") + ", at most "
                                + s.get("concurrency") + " in flight"));
        b.append(String.format(Locale.ROOT, "completed videos per minute: %.2f%n", (Double) s.get("videos_per_minute")));
        b.append("latency s (end to end): ").append(line(lat)).append('\n');
        b.append("queue wait s (server):  ").append(line(queue)).append('\n');
        ((Map<String, Integer>) s.get("failures")).forEach((why, n) -> b.append("failed ").append(n).append(": ").append(why)
                .append('\n'));
        b.append("| run | requests | completed | failed | videos/min | latency p50 s | p95 s | p99 s | queue wait p50 s | p95 s |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|\n");
        b.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %.2f | %s | %s | %s | %s | %s |%n", s.get("label"),
                s.get("requests"), s.get("completed"), s.get("failed"), (Double) s.get("videos_per_minute"), num(lat.get("p50")),
                num(lat.get("p95")), num(lat.get("p99")), num(queue.get("p50")), num(queue.get("p95"))));
        return b.toString();
    }

    private static String line(Map<String, Double> m) {
        return "mean " + num(m.get("mean")) + ", p50 " + num(m.get("p50")) + ", p95 " + num(m.get("p95")) + ", p99 "
                + num(m.get("p99"));
    }

    private static String num(Double d) {
        return d == null ? "-" : String.format(Locale.ROOT, "%.2f", d);
    }
}
