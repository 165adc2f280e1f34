package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The README's hot-swap example, as a user runs it on the assembled product: a
 * {@code deploy/io.diffuse.engine.cfg} holding only {@code diffuse.parallel.strategy = ring} means a
 * ring over the world on a running default server (ring 2 over the demo's 2 ranks) and keeps the
 * model's 2 ranks in {@code generate}; a {@code .cfg} whose plan cannot run is logged with its key
 * and file, shown by {@code /admin/defaults} and {@code info}, and the server goes on planning
 * without it.
 */
public class OneKeyCfgIT {
    private static final Path DIFFUSE = TestBundles.dist().resolve("bin/diffuse");
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @Rule
    public TemporaryFolder folder = new TemporaryFolder();

    private ProcessBuilder diffuse(Path tmp, Path deploy, Path out, Path err, String... args) {
        List<String> cmd = new ArrayList<>(List.of(DIFFUSE.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile());
        pb.environment().put("JAVA_OPTS", "-Djava.io.tmpdir=" + tmp + " -Dio.diffuse.deploy=" + deploy);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_"));
        return pb;
    }

    /** Runs a command to its end; returns exit code, stdout, stderr. */
    private String[] run(Path tmp, Path deploy, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = diffuse(tmp, deploy, out, err, args).start();
        if (!p.waitFor(240, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("bin/diffuse " + String.join(" ", args) + " did not finish in 240 s");
        }
        return new String[] {Integer.toString(p.exitValue()), Files.readString(out), Files.readString(err)};
    }

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

    /** GET /admin/defaults until its managed layer holds {@code key} (FileInstall polls deploy/ every second). */
    private Map<String, Object> awaitManagedKey(String base, String key, Object value) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Map<String, Object> defaults = null;
        while (System.nanoTime() < deadline) {
            defaults = call("GET", base + "/admin/defaults", null);
            Object managed = defaults.get("managed");
            if (managed instanceof Map<?, ?> m && m.get("keys") instanceof Map<?, ?> keys
                    && String.valueOf(value).equals(String.valueOf(keys.get(key)))) {
                return defaults;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("/admin/defaults never showed the deploy/ layer's " + key + " = " + value + ": " + defaults);
    }

    @Test
    public void theReadmesOneKeyCfgGivesTheNextJobARingOverBothRanksAndACfgThatCannotPlanIsLoggedAndShown()
            throws Exception {
        Path tmp = folder.getRoot().toPath();
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Path out = tmp.resolve("stdout.txt");
        Path err = tmp.resolve("stderr.txt");
        Process serve = diffuse(tmp, deploy, out, err, "serve", "--port", "0", "--threads", "1", "--output-dir",
                tmp.resolve("videos").toString()).start();
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
            Map<String, Object> small = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5, "num_inference_steps", 2);

            // The README's example, exactly: one key.
            Path cfg = deploy.resolve("io.diffuse.engine.cfg");
            Files.writeString(cfg, "diffuse.parallel.strategy = ring\n");
            Map<String, Object> shown = awaitManagedKey(base, "diffuse.parallel.strategy", "ring");
            assertTrue(shown.toString(), String.valueOf(((Map<?, ?>) shown.get("managed")).get("source"))
                    .endsWith("io.diffuse.engine.cfg"));
            Map<String, Object> ring = awaitEnd(base, (String) call("POST", base + "/v1/videos", small).get("id"));
            assertEquals(ring.toString() + Files.readString(err), "completed", ring.get("status"));
            Map<?, ?> plan = (Map<?, ?>) ring.get("plan");
            assertEquals(ring.toString(), "ring", plan.get("strategy"));
            assertEquals(ring.toString(), 2, plan.get("ring"));
            assertEquals(ring.toString(), 2, plan.get("world"));

            // A .cfg whose plan cannot run on this world: logged with its key and file, shown by /admin/defaults,
            // and the jobs plan without it (the demo's own plan) rather than fail.
            Files.writeString(cfg, "diffuse.parallel.strategy = ring\ndiffuse.parallel.ring = 3\n");
            Map<String, Object> broken = awaitManagedKey(base, "diffuse.parallel.ring", 3);
            Map<?, ?> managed = (Map<?, ?>) broken.get("managed");
            assertEquals(broken.toString(), false, managed.get("used"));
            assertTrue(broken.toString(), String.valueOf(managed.get("error")).contains("ring 3"));
            Map<String, Object> below = awaitEnd(base, (String) call("POST", base + "/v1/videos", small).get("id"));
            assertEquals(below.toString(), "completed", below.get("status"));
            assertEquals(below.toString(), "usp", ((Map<?, ?>) below.get("plan")).get("strategy"));
            String log = Files.readString(err);
            assertTrue(log, log.lines().anyMatch(l -> l.contains("WARN") && l.contains(cfg.toString())
                    && l.contains("diffuse.parallel.ring = 3")));

            serve.toHandle().destroy(); // SIGTERM
            assertTrue(serve.waitFor(60, TimeUnit.SECONDS));
            assertEquals(Files.readString(err), 0, serve.exitValue());
        } finally {
            serve.descendants().forEach(ProcessHandle::destroyForcibly);
            serve.destroyForcibly();
        }
    }

    @Test
    public void generateWithTheOneKeyCfgKeepsTheModelsTwoRanks() throws Exception {
        Path tmp = folder.getRoot().toPath();
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Files.writeString(deploy.resolve("io.diffuse.engine.cfg"), "diffuse.parallel.strategy = ring\n");
        String[] r = run(tmp, deploy, "generate", "--prompt", "a fox", "--height", "32", "--width", "32", "--num-frames", "5",
                "--num-inference-steps", "1", "--threads", "1", "--output-tensors", tmp.resolve("t.safetensors").toString());
        String all = String.join("\n", r);
        assertEquals(all, "0", r[0]);
        String line = r[1].lines().filter(l -> l.contains("] ran world=")).findFirst()
                .orElseThrow(() -> new AssertionError("no 'ran ...' line in\n" + all));
        assertTrue(line, line.contains("world=2 ulysses=1 ring=2") && line.contains("strategy ring"));
    }

    @Test
    public void generateWithACfgWhosePlanCannotRunNamesTheFileInItsOneLine() throws Exception {
        Path tmp = folder.getRoot().toPath();
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Path cfg = deploy.resolve("io.diffuse.engine.cfg");
        Files.writeString(cfg, "diffuse.parallel.ring = 3\n");
        String[] r = run(tmp, deploy, "generate", "--prompt", "a fox", "--output", tmp.resolve("x.mp4").toString());
        String all = String.join("\n", r);
        assertNotEquals(all, "0", r[0]);
        assertTrue(all, r[2].lines().anyMatch(l -> l.startsWith("error: ") && l.contains("must equal the rank count")
                && l.contains("diffuse.parallel.ring from") && l.contains(cfg.getFileName().toString())));
        assertFalse(all, Files.exists(tmp.resolve("x.mp4")));
    }

    @Test
    public void infoNamesTheFileAndKeyOfACfgWhosePlanCannotRun() throws Exception {
        Path tmp = folder.getRoot().toPath();
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Path cfg = deploy.resolve("io.diffuse.engine.cfg");
        Files.writeString(cfg, "diffuse.parallel.ring = 3\n");
        String[] r = run(tmp, deploy, "info");
        String all = String.join("\n", r);
        assertEquals(all, "0", r[0]);
        assertTrue(all, r[1].lines().anyMatch(l -> l.contains(cfg.toString()) && l.contains("diffuse.parallel.ring = 3")
                && l.contains("cannot run")));
    }
}
