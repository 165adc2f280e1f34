package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code diffuse bench serve}: a load generator for a running {@code diffuse serve}, shaped like
 * {@code vllm bench serve} (see {@link ServeLoad}). It starts no ranks: it is a client.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Load a running `diffuse serve` through its HTTP API: N video requests at a fixed concurrency "
                + "or at a Poisson rate, each created, polled to its end and downloaded.",
            "Reports completed videos per minute, end-to-end latency and the server's queue wait (mean, p50, p95, p99) "
                + "and failures; --result-json writes every figure and request for scripts."})
public final class BenchServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--url", paramLabel = "URL", defaultValue = "http://127.0.0.1:8000",
            description = "The server's base URL (default ${DEFAULT-VALUE}).")
    String url;

    @Option(names = "--api-key", paramLabel = "KEY", defaultValue = "${env:DIFFUSE_BENCH_API_KEY}",
            description = "Bearer key of the server (default: environment DIFFUSE_BENCH_API_KEY; none).")
    String apiKey;

    @Option(names = {"-n", "--num-requests"}, paramLabel = "N", defaultValue = "8", description = "Requests to send (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--concurrency", paramLabel = "N",
            description = "Requests in flight at most (default: 1, or unbounded with --request-rate).")
    Integer concurrency;

    @Option(names = "--request-rate", paramLabel = "R",
            description = "Poisson arrivals at R requests per second (default: none: send as --concurrency allows).")
    Double rate;

    @Option(names = "--arrival-seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the Poisson arrival times (default ${DEFAULT-VALUE}).")
    long arrivalSeed;

    @Option(names = "--body", paramLabel = "FILE",
            description = "A JSON object file: the request body template; the options below override its fields.")
    Path bodyFile;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "prompt (default: \"a benchmark video\" unless the body has one).")
    String prompt;

    @Option(names = "--model", paramLabel = "NAME", description = "model of the request (default: the server's).")
    String model;

    @Option(names = "--size", paramLabel = "WxH", description = "size, e.g. 128x128.")
    String size;

    @Option(names = "--frames", paramLabel = "N", description = "num_frames (4k+1).")
    Integer frames;

    @Option(names = "--steps", paramLabel = "N", description = "num_inference_steps.")
    Integer steps;

    @Option(names = "--seed", paramLabel = "N", description = "seed of every video.")
    Long seed;

    @Option(names = "--poll-interval", paramLabel = "MS", defaultValue = "100",
            description = "Milliseconds between polls of a job (default ${DEFAULT-VALUE}); latency is seen to this resolution.")
    long pollMillis;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "3600",
            description = "A request not ended after this long counts as failed (default ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--no-download", negatable = false, description = "Do not fetch /content (latency ends at `completed`).")
    boolean noDownload;

    @Option(names = "--label", paramLabel = "TEXT", description = "First column of the result row (default: the load).")
    String label;

    @Option(names = "--result-json", paramLabel = "FILE", description = "Write the summary and every request to FILE as JSON.")
    Path resultJson;

    @Override
    public Integer call() throws Exception {
        // Jackson is optional in the engine (serve's library): this class names none of its types, so
        // every other command loads without it, and this one says what is missing.
        try {
            Class.forName("com.fasterxml.jackson.databind.ObjectMapper", false, getClass().getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new DiffuseException("bench serve needs Jackson (jackson-databind), which this installation lacks");
        }
        if (requests < 1) {
            throw new DiffuseException("--num-requests " + requests + " must be at least 1");
        }
        if (concurrency != null && concurrency < 1) {
            throw new DiffuseException("--concurrency " + concurrency + " must be at least 1");
        }
        if (rate != null && !(rate > 0 && Double.isFinite(rate))) {
            throw new DiffuseException("--request-rate " + rate + " must be a positive number of requests per second");
        }
        if (pollMillis < 1) {
            throw new DiffuseException("--poll-interval " + pollMillis + " must be at least 1 ms");
        }
        if (timeoutSeconds < 1) {
            throw new DiffuseException("--request-timeout " + timeoutSeconds + " must be at least 1 s");
        }
        if (resultJson != null && resultJson.getParent() != null && !Files.isDirectory(resultJson.getParent())) {
            throw new DiffuseException("--result-json " + resultJson + ": folder " + resultJson.getParent() + " does not exist");
        }
        int inFlight = concurrency != null ? concurrency : rate != null ? requests : 1;
        ServeLoad.Plan plan = new ServeLoad.Plan(baseUri(), apiKey, body(), requests, inFlight,
                rate == null ? Double.POSITIVE_INFINITY : rate, arrivalSeed, Duration.ofMillis(pollMillis),
                Duration.ofSeconds(timeoutSeconds), !noDownload);
        ServeLoad load = new ServeLoad(plan);
        load.checkReachable();
        List<ServeLoad.Outcome> outcomes = load.run();
        String name = label != null ? label
                : rate != null ? "rate " + rate + (concurrency != null ? " c" + concurrency : "") : "c" + inFlight;
        Map<String, Object> summary = ServeLoad.summary(plan, name, outcomes);
        if (resultJson != null) {
            ServeLoad.writeResult(resultJson, summary);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(ServeLoad.report(summary));
        out.flush();
        return 0;
    }

    private URI baseUri() {
        URI uri;
        try {
            uri = new URI(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        } catch (URISyntaxException e) {
            throw new DiffuseException("--url " + url + " is not a URL (" + e.getReason() + "); give e.g. http://127.0.0.1:8000");
        }
        if (!("http".equalsIgnoreCase(uri.getScheme()) || "https".equalsIgnoreCase(uri.getScheme())) || uri.getHost() == null) {
            throw new DiffuseException("--url " + url + " is not an http(s) URL with a host; give e.g. http://127.0.0.1:8000");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new DiffuseException("--url " + url + " has a query or fragment; give the server's base URL, e.g. http://127.0.0.1:8000");
        }
        return uri;
    }

    /** The template (or an empty object) with the options' fields set over it. */
    private Map<String, Object> body() {
        Map<String, Object> body = bodyFile != null ? ServeLoad.readBody(bodyFile) : new LinkedHashMap<>();
        if (prompt != null) {
            body.put("prompt", prompt);
        } else {
            body.putIfAbsent("prompt", "a benchmark video");
        }
        putIfSet(body, "model", model);
        putIfSet(body, "size", size);
        putIfSet(body, "num_frames", frames);
        putIfSet(body, "num_inference_steps", steps);
        putIfSet(body, "seed", seed);
        return body;
    }

    private static void putIfSet(Map<String, Object> body, String key, Object value) {
        if (value != null) {
            body.put(key, value);
        }
    }
}
