package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * {@code bin/diffuse serve} of the assembled product (Felix, bundles, Jetty and Micrometer from lib/):
 * a {@code .cfg} dropped into deploy/ while a job runs and another waits changes the plan from the
 * next job on, without a restart; the running job keeps the plan it started with; a strategy bundle
 * dropped into deploy/ is refused until every rank has it, then runs; SIGTERM exits 0.
 */
public class ServeHotSwapIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @Rule
    public TemporaryFolder folder = new TemporaryFolder();

    @SuppressWarnings("unchecked")
    private Map<String, Object> call(String method, String url, Object body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url));
        b = body == null ? b.method(method, HttpRequest.BodyPublishers.noBody())
                : b.header("Content-Type", "application/json").method(method,
                        HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(r.body(), 200, r.statusCode());
        return JSON.readValue(r.body(), Map.class);
    }

    private HttpResponse<String> post(String url, Object body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private Map<String, Object> awaitEnd(String base, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (System.nanoTime() < deadline) {
            Map<String, Object> job = call("GET", base + "/v1/videos/" + id, null);
            if (List.of("completed", "failed").contains(job.get("status"))) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(id + " did not end");
    }

    @Test
    public void aCfgDroppedIntoDeployChangesThePlanFromTheNextJobOn() throws Exception {
        Path tmp = folder.getRoot().toPath();
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Path out = tmp.resolve("stdout.txt");
        Path err = tmp.resolve("stderr.txt");
        ProcessBuilder pb = new ProcessBuilder(DIFFUSE.toString(), "serve", "--port", "0", "--threads", "1",
                "-C", "diffuse.serve.max-steps=5000", "--output-dir",
                tmp.resolve("videos").toString()).directory(tmp.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("JAVA_OPTS", "-Djava.io.tmpdir=" + tmp + " -Dio.diffuse.deploy=" + deploy);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_"));
        Process serve = pb.start();
        try {
            String base = null;
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (System.nanoTime() < deadline && (base == null || !Files.readString(out).contains("diffuse serve: ready"))) {
                Matcher m = Pattern.compile("listening on (http://[0-9.]+:\\d+)").matcher(Files.readString(out));
                if (m.find()) {
                    base = m.group(1);
                }
                assertTrue(Files.readString(err), serve.isAlive());
                Thread.sleep(200);
            }
            assertTrue("not ready: " + Files.readString(out) + Files.readString(err), base != null);

            Map<String, Object> small = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5, "num_inference_steps", 3);
            String running = (String) call("POST", base + "/v1/videos", Map.of("prompt", "a cat", "size", "64x64",
                    "num_frames", 5, "num_inference_steps", 5000)).get("id"); // still running when cancelled, on a quiet machine too
            while (((Number) call("GET", base + "/v1/videos/" + running, null).get("step")).intValue() < 1) {
                Thread.sleep(50);
            }
            String next = (String) call("POST", base + "/v1/videos", small).get("id");
            Files.writeString(deploy.resolve("io.diffuse.engine.cfg"),
                    "diffuse.parallel.nproc = 2\ndiffuse.parallel.ulysses = 1\ndiffuse.parallel.ring = 2\n");
            Thread.sleep(4000); // FileInstall polls deploy/ every second, then ConfigAdmin updates the engine
            call("DELETE", base + "/v1/videos/" + running, null);

            Map<String, Object> first = awaitEnd(base, running);
            Map<String, Object> second = awaitEnd(base, next);
            assertEquals(first.toString(), "usp", ((Map<?, ?>) first.get("plan")).get("strategy"));
            assertEquals(second.toString(), "completed", second.get("status"));
            assertEquals(second.toString(), "ring", ((Map<?, ?>) second.get("plan")).get("strategy"));
            assertEquals(2, ((Map<?, ?>) second.get("plan")).get("ring"));
            byte[] mp4 = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/videos/" + next + "/content")).build(),
                    HttpResponse.BodyHandlers.ofByteArray()).body();
            assertEquals("ftyp", new String(mp4, 4, 4, java.nio.charset.StandardCharsets.US_ASCII));

            // A strategy bundle dropped into deploy/ while serving: refused (400, naming it) until every rank has
            // it, then usable without a restart.
            Map<String, Object> viaAllGather = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5,
                    "num_inference_steps", 2, "parallel", Map.of("strategy", "allgather"));
            HttpResponse<String> refused = post(base + "/v1/videos", viaAllGather);
            assertEquals(refused.body(), 400, refused.statusCode());
            assertTrue(refused.body(), refused.body().contains("allgather"));
            Files.copy(TestBundles.thirdParty(), deploy.resolve("itest-allgather.jar"));
            HttpResponse<String> admitted = refused;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (admitted.statusCode() == 400 && System.nanoTime() < until) {
                Thread.sleep(500); // FileInstall installs it in every rank; the ranks report it at their next tick
                admitted = post(base + "/v1/videos", viaAllGather);
            }
            assertEquals(admitted.body(), 200, admitted.statusCode());
            Map<String, Object> third = awaitEnd(base, (String) JSON.readValue(admitted.body(), Map.class).get("id"));
            assertEquals(third.toString(), "completed", third.get("status"));
            assertEquals(third.toString(), "allgather", ((Map<?, ?>) third.get("plan")).get("strategy"));

            // A .cfg's request defaults obey the server's limits too: 6000 steps, beyond its max-steps 5000, are refused
            // for every request that does not give its own.
            Files.writeString(deploy.resolve("io.diffuse.engine.cfg"), "diffuse.parallel.nproc = 2\ndiffuse.parallel.ulysses = 1\n"
                    + "diffuse.parallel.ring = 2\ndiffuse.generate.num-inference-steps = 6000\n");
            Map<String, Object> noSteps = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5);
            HttpResponse<String> overSteps = post(base + "/v1/videos", noSteps);
            long cfgDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (overSteps.statusCode() == 200 && System.nanoTime() < cfgDeadline) {
                call("DELETE", base + "/v1/videos/" + JSON.readValue(overSteps.body(), Map.class).get("id"), null);
                Thread.sleep(500); // FileInstall polls deploy/ every second, then ConfigAdmin updates the engine
                overSteps = post(base + "/v1/videos", noSteps);
            }
            assertEquals(overSteps.body(), 400, overSteps.statusCode());
            assertTrue(overSteps.body(), overSteps.body().contains("num_inference_steps 6000")
                    && overSteps.body().contains("diffuse.serve.max-steps"));

            serve.toHandle().destroy(); // SIGTERM
            assertTrue(serve.waitFor(60, TimeUnit.SECONDS));
            assertEquals(Files.readString(err), 0, serve.exitValue());
        } finally {
            serve.descendants().forEach(ProcessHandle::destroyForcibly);
            serve.destroyForcibly();
        }
    }
}
