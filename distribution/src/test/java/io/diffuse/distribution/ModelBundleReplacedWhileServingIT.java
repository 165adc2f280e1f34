package io.diffuse.distribution;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * What docs/plugins.md says of a model bundle replaced in deploy/ while {@code bin/diffuse serve} runs
 * its model: the server keeps running the model as it was loaded (the old bundle's code and
 * configuration) and answers as before; the new bundle takes effect when the ranks start again.
 */
public class ModelBundleReplacedWhileServingIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Object> JOB = Map.of("prompt", "waves", "seed", 1);
    private final HttpClient http = HttpClient.newHttpClient();

    @Rule
    public TemporaryFolder folder = new TemporaryFolder();

    @Test
    public void aReplacedModelBundleTakesEffectAtTheNextStartNotInTheRunningServer() throws Exception {
        Path tmp = folder.getRoot().toPath();
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Path waves = Path.of(System.getProperty("itest.bundles"), "toy-waves-model.jar");
        Files.copy(waves, deploy.resolve("toy-waves-model.jar"));

        byte[] before;
        byte[] afterReplacing;
        Process serve = start(tmp, deploy, "first");
        try {
            String base = awaitReady(serve, tmp, "first");
            before = video(base, JOB);

            // The new build of the bundle: another version whose waves move three times as fast.
            Path replacement = tmp.resolve("toy-waves-model-next.jar");
            rewrite(waves, replacement);
            Files.move(replacement, deploy.resolve("toy-waves-model.jar"), StandardCopyOption.REPLACE_EXISTING);
            // A strategy bundle dropped after it: once the server admits a job naming it, FileInstall has
            // processed deploy/ past the replacement (it updates, then installs, then starts, in one scan).
            Files.copy(TestBundles.thirdParty(), deploy.resolve("itest-allgather.jar"));
            Map<String, Object> viaAllGather = Map.of("prompt", "waves", "seed", 1, "parallel", Map.of("strategy", "allgather"));
            HttpResponse<String> admitted = post(base + "/v1/videos", viaAllGather);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (admitted.statusCode() == 400 && System.nanoTime() < until) {
                Thread.sleep(500);
                admitted = post(base + "/v1/videos", viaAllGather);
            }
            assertEquals(admitted.body(), 200, admitted.statusCode());
            Map<String, Object> viaNewStrategy = awaitEnd(base, (String) JSON.readValue(admitted.body(), Map.class).get("id"));
            assertEquals(viaNewStrategy.toString(), "completed", viaNewStrategy.get("status"));

            afterReplacing = video(base, JOB);
            serve.toHandle().destroy(); // SIGTERM
            assertTrue(serve.waitFor(60, TimeUnit.SECONDS));
            assertEquals(Files.readString(tmp.resolve("first.err")), 0, serve.exitValue());
        } finally {
            stop(serve);
        }
        assertArrayEquals("the running server keeps the model it loaded", before, afterReplacing);

        Process again = start(tmp, deploy, "second");
        try {
            byte[] restarted = video(awaitReady(again, tmp, "second"), JOB);
            assertFalse("after a restart the replaced bundle runs", Arrays.equals(before, restarted));
        } finally {
            stop(again);
        }
    }

    /** The toy-waves jar as version 0.1.1 with {@code speed = 3.0} in its reference.conf. */
    private static void rewrite(Path from, Path to) throws IOException {
        try (ZipFile in = new ZipFile(from.toFile()); ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(to))) {
            for (ZipEntry e : java.util.Collections.list(in.entries())) {
                byte[] bytes = in.getInputStream(e).readAllBytes();
                String text = new String(bytes, StandardCharsets.UTF_8);
                if (e.getName().equals("META-INF/MANIFEST.MF")) {
                    bytes = text.replaceAll("Bundle-Version: [^\\r\\n]*", "Bundle-Version: 0.1.1").getBytes(StandardCharsets.UTF_8);
                } else if (e.getName().equals("reference.conf")) {
                    assertTrue(text, text.contains("speed = 1.0"));
                    bytes = text.replace("speed = 1.0", "speed = 3.0").getBytes(StandardCharsets.UTF_8);
                }
                out.putNextEntry(new ZipEntry(e.getName()));
                out.write(bytes);
                out.closeEntry();
            }
        }
    }

    private static Process start(Path tmp, Path deploy, String name) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(DIFFUSE.toString(), "serve", "--model-family", "toy-waves", "--port", "0",
                "--threads", "1", "--output-dir", tmp.resolve("videos-" + name).toString()).directory(tmp.toFile())
                .redirectOutput(tmp.resolve(name + ".out").toFile()).redirectError(tmp.resolve(name + ".err").toFile());
        pb.environment().put("JAVA_OPTS", "-Djava.io.tmpdir=" + tmp + " -Dio.diffuse.deploy=" + deploy);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_"));
        return pb.start();
    }

    private static String awaitReady(Process serve, Path tmp, String name) throws Exception {
        Path out = tmp.resolve(name + ".out");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            String text = Files.readString(out);
            Matcher m = Pattern.compile("listening on (http://[0-9.]+:\\d+)").matcher(text);
            if (m.find() && text.contains("diffuse serve: ready")) {
                return m.group(1);
            }
            assertTrue(Files.readString(tmp.resolve(name + ".err")), serve.isAlive());
            Thread.sleep(200);
        }
        throw new AssertionError("not ready: " + Files.readString(out) + Files.readString(tmp.resolve(name + ".err")));
    }

    private static void stop(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    private byte[] video(String base, Map<String, Object> body) throws Exception {
        HttpResponse<String> created = post(base + "/v1/videos", body);
        assertEquals(created.body(), 200, created.statusCode());
        String id = (String) JSON.readValue(created.body(), Map.class).get("id");
        Map<String, Object> job = awaitEnd(base, id);
        assertEquals(job.toString(), "completed", job.get("status"));
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/videos/" + id + "/content")).build(),
                HttpResponse.BodyHandlers.ofByteArray()).body();
    }

    private HttpResponse<String> post(String url, Object body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> awaitEnd(String base, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/videos/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString());
            Map<String, Object> job = JSON.readValue(r.body(), Map.class);
            if (List.of("completed", "failed").contains(job.get("status"))) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(id + " did not end");
    }
}
