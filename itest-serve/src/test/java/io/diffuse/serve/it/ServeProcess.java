package io.diffuse.serve.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.diffuse.core.cli.Cli;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code diffuse serve} as a user starts it: the class-path host's command line in its own JVM (the
 * launcher), which spawns the rank JVMs; the test talks HTTP to it on loopback.
 */
final class ServeProcess implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LISTENING = Pattern.compile("listening on (http://[0-9.]+:\\d+)");
    private static final Pattern RANK_PID = Pattern.compile("\\[launcher\\] rank (\\d+) started, pid (\\d+)");

    final Process launcher;
    private final StringBuffer out = new StringBuffer();
    private final StringBuffer err = new StringBuffer();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    String base;
    String apiKey;

    ServeProcess(Path outputDir, Map<String, String> env, String... args) throws IOException {
        this(0, outputDir, env, args);
    }

    /** A server on {@code port} (0 = any free port, which a restart of the ranks keeps). */
    ServeProcess(int port, Path outputDir, Map<String, String> env, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), Cli.class.getName(), "serve", "--port", Integer.toString(port),
                "--output-dir",
                outputDir.toString(), "--threads", "1"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        launcher = pb.start();
        pump(launcher.getInputStream(), out);
        pump(launcher.getErrorStream(), err);
    }

    private static void pump(InputStream in, StringBuffer to) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    to.append(line).append('\n');
                }
            } catch (IOException e) {
                // process gone
            }
        });
        t.setDaemon(true);
        t.start();
    }

    /** Waits until rank 0 says ready (the model loaded on every rank). */
    ServeProcess awaitReady(Duration timeout) throws InterruptedException {
        return awaitReady(timeout, 1);
    }

    /** Waits until rank 0 has said ready {@code times} times (the ranks restarted {@code times - 1} times). */
    ServeProcess awaitReady(Duration timeout, int times) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = LISTENING.matcher(out);
            if (base == null && m.find()) {
                base = m.group(1);
            }
            if (base != null && out.toString().split("diffuse serve: ready", -1).length - 1 >= times) {
                return this;
            }
            if (!launcher.isAlive()) {
                throw new AssertionError("serve exited with " + launcher.exitValue() + "\n" + output());
            }
            Thread.sleep(100);
        }
        throw new AssertionError("serve not ready within " + timeout + "\n" + output());
    }

    /** The pid of rank {@code rank}, as the launcher last reported it (after a restart: the new one). */
    long rankPid(int rank) {
        Matcher m = RANK_PID.matcher(err);
        long pid = -1;
        while (m.find()) {
            if (Integer.parseInt(m.group(1)) == rank) {
                pid = Long.parseLong(m.group(2));
            }
        }
        if (pid < 0) {
            throw new AssertionError("no pid for rank " + rank + "\n" + output());
        }
        return pid;
    }

    /** A port that was free a moment ago on loopback. */
    static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    String output() {
        return "--- stdout\n" + out + "--- stderr\n" + err;
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<byte[]> getBytes(String path) throws IOException, InterruptedException {
        return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<String> delete(String path) throws IOException, InterruptedException {
        return http.send(request(path).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> postJson(String path, Object body) throws IOException, InterruptedException {
        return http.send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** An admin call ({@code /admin/...}) with its own bearer key (null: none) and a JSON body (null: none). */
    HttpResponse<String> admin(String path, String method, String key, Object body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        HttpRequest.BodyPublisher publisher = body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body));
        return http.send(b.header("Content-Type", "application/json").method(method, publisher).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** multipart/form-data as the OpenAI SDK sends it: text fields (and files as name -> byte[]). */
    HttpResponse<String> postMultipart(String path, Map<String, ?> fields) throws IOException, InterruptedException {
        String boundary = "----diffuse" + System.nanoTime();
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        for (Map.Entry<String, ?> f : fields.entrySet()) {
            body.write(("--" + boundary + "\r\n").getBytes(StandardCharsets.UTF_8));
            if (f.getValue() instanceof byte[] bytes) {
                body.write(("Content-Disposition: form-data; name=\"" + f.getKey() + "\"; filename=\"image.png\"\r\n"
                        + "Content-Type: image/png\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                body.write(bytes);
            } else {
                body.write(("Content-Disposition: form-data; name=\"" + f.getKey() + "\"\r\n\r\n" + f.getValue())
                        .getBytes(StandardCharsets.UTF_8));
            }
            body.write("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        body.write(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return http.send(request(path).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        return b;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> json(HttpResponse<String> r) throws IOException {
        return JSON.readValue(r.body(), Map.class);
    }

    /** Polls a job until it is completed or failed. */
    Map<String, Object> awaitEnd(String id, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Map<String, Object> job = json(get("/v1/videos/" + id));
            Object status = job.get("status");
            if ("completed".equals(status) || "failed".equals(status)) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(id + " did not end within " + timeout + "\n" + output());
    }

    /** The value of an unlabelled Prometheus sample, e.g. diffuse_queue_depth. */
    double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no metric " + name);
    }

    @Override
    public void close() throws InterruptedException {
        if (launcher.isAlive()) {
            launcher.destroyForcibly();
            launcher.waitFor();
        }
    }
}
