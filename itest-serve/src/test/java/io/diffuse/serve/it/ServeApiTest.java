package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

/**
 * One {@code diffuse serve} of the built-in demo on 2 rank processes (the demo's plan: Ulysses 2,
 * patch-parallel VAE), started once for the class as a user would, driven over HTTP on loopback.
 * The model loads once; every test below is a request boundary of the same server. The last test
 * stops it with SIGTERM.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeApiTest {
    /** A small, quick request (the demo takes a fraction of a second per step at 64 x 64 x 5). */
    private static final Map<String, Object> SMALL = Map.of("prompt", "a cat walks on the grass", "size", "64x64",
            "num_frames", 5, "num_inference_steps", 4, "seed", 7);

    /** The server's admin key (diffuse.serve.admin-key from the environment, as an operator would set it). */
    private static final String ADMIN_KEY = "admin-s3cret";

    private Path tmp;
    private ServeProcess serve;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("serve-api-test");
        serve = new ServeProcess(tmp.resolve("out"), Map.of("DIFFUSE_SERVE_ADMIN__KEY", ADMIN_KEY), "-C", "diffuse.serve.max-queue=4", "-C",
                "diffuse.serve.write-tensors=true").awaitReady(Duration.ofMinutes(3));
    }

    @AfterAll
    void stop() throws Exception {
        serve.close();
        try (var files = Files.walk(tmp)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private Map<String, Object> with(Map<String, Object> base, Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static boolean isMp4(byte[] b) {
        // ISO BMFF: the first box is 'ftyp' (bytes 4..7).
        return b.length > 12 && b[4] == 'f' && b[5] == 't' && b[6] == 'y' && b[7] == 'p';
    }

    @Test
    @Order(1)
    void jsonCreatePollAndContentIsAnMp4WithThePlanAndStageTimes() throws Exception {
        assertEquals(200, serve.get("/ready").statusCode());
        assertEquals(200, serve.get("/health").statusCode());
        HttpResponse<String> created = serve.postJson("/v1/videos", SMALL);
        assertEquals(200, created.statusCode(), created.body());
        Map<String, Object> job = ServeProcess.json(created);
        String id = (String) job.get("id");
        assertTrue(id.matches("video_[0-9a-f]{32}"), id);
        assertEquals("video", job.get("object"));
        assertEquals("builtin:demo", job.get("model"));
        assertEquals("64x64", job.get("size"));

        HttpResponse<String> early = serve.get("/v1/videos/" + id);
        Map<String, Object> done = serve.awaitEnd(id, Duration.ofMinutes(2));
        if (!"completed".equals(ServeProcess.json(early).get("status"))) {
            assertTrue(early.headers().firstValue("openai-poll-after-ms").isPresent(), "poll hint while running");
        }
        assertEquals("completed", done.get("status"), done.toString());
        assertEquals(100, done.get("progress"));
        assertNotNull(done.get("completed_at"));
        assertTrue(((Number) done.get("expires_at")).longValue() > ((Number) done.get("completed_at")).longValue());
        @SuppressWarnings("unchecked")
        Map<String, Object> plan = (Map<String, Object>) done.get("plan");
        assertEquals("usp", plan.get("strategy"), plan.toString());
        assertEquals(2, plan.get("ulysses"));
        assertEquals("patch-parallel", plan.get("vae_executor"));
        @SuppressWarnings("unchecked")
        Map<String, Object> stages = (Map<String, Object>) done.get("stage_seconds");
        assertTrue(stages.keySet().containsAll(List.of("encode", "denoise", "decode")), stages.toString());

        HttpResponse<byte[]> content = serve.getBytes("/v1/videos/" + id + "/content");
        assertEquals(200, content.statusCode());
        assertEquals("video/mp4", content.headers().firstValue("content-type").orElse(""));
        assertTrue(isMp4(content.body()), "an MP4 (ftyp box)");

        Map<String, Object> list = ServeProcess.json(serve.get("/v1/videos?order=asc&limit=5"));
        assertEquals("list", list.get("object"));
        assertTrue(list.get("data").toString().contains(id));
        Map<String, Object> models = ServeProcess.json(serve.get("/v1/models"));
        assertTrue(models.get("data").toString().contains("builtin:demo"));
        assertTrue(serve.metric("diffuse_jobs_completed_total") >= 1);
    }

    @Test
    @Order(2)
    void multipartCreateAsTheOpenAiSdkSendsIt() throws Exception {
        HttpResponse<String> created = serve.postMultipart("/v1/videos", Map.of("prompt", "a dog", "size", "64x64",
                "num_frames", "5", "num_inference_steps", "3", "seed", "3"));
        assertEquals(200, created.statusCode(), created.body());
        String id = (String) ServeProcess.json(created).get("id");
        Map<String, Object> done = serve.awaitEnd(id, Duration.ofMinutes(2));
        assertEquals("completed", done.get("status"), done.toString());
        assertTrue(isMp4(serve.getBytes("/v1/videos/" + id + "/content").body()));
    }

    @Test
    @Order(3)
    void badRequestsAre400WithTheOpenAiErrorBodyNamingTheFieldAndAreNotQueued() throws Exception {
        Object[][] cases = {
            {with(SMALL, "num_frames", 10), "num_frames", "4k+1"},
            {with(SMALL, "parallel", Map.of("ulysses", 3)), "parallel", "nproc = 2"},
            {with(SMALL, "parallel", Map.of("strategy", "bogus")), "parallel", "bogus"},
            {with(SMALL, "size", "big"), "size", "WIDTHxHEIGHT"},
            {with(SMALL, "colour", "red"), "colour", "unknown field"},
            {with(SMALL, "model", "sora-2"), "model", "not served"},
            {Map.of("size", "64x64"), "prompt", "required"},
        };
        for (Object[] c : cases) {
            HttpResponse<String> r = serve.postJson("/v1/videos", c[0]);
            assertEquals(400, r.statusCode(), r.body());
            @SuppressWarnings("unchecked")
            Map<String, Object> error = (Map<String, Object>) ServeProcess.json(r).get("error");
            assertEquals("invalid_request_error", error.get("type"), r.body());
            assertEquals(c[1], error.get("param"), r.body());
            assertTrue(String.valueOf(error.get("message")).contains((String) c[2]), r.body());
        }
        assertEquals(0.0, serve.metric("diffuse_queue_depth"));
        assertEquals(404, serve.get("/v1/videos/video_0000").statusCode());
    }

    /**
     * The same request and seed through the server and through {@code diffuse generate} (2 rank
     * processes, the same demo plan) give bit-identical latents and video: the server adds no
     * numerical difference, only scheduling.
     */
    @Test
    @Order(4)
    void theServerAndGenerateGiveIdenticalLatentsForTheSameRequestAndSeed() throws Exception {
        String id = (String) ServeProcess.json(serve.postJson("/v1/videos", SMALL)).get("id");
        assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"));
        Path served = tmp.resolve("out").resolve(id + ".safetensors");

        Path generated = tmp.resolve("generate.safetensors");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.of(
                new CliEnvironment.ProcessCommand(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                        System.getProperty("java.class.path"), Cli.class.getName())))));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute("generate", "--prompt", "a cat walks on the grass", "--width", "64", "--height", "64",
                "--num-frames", "5", "--num-inference-steps", "4", "--seed", "7", "--threads", "1", "--output-tensors",
                generated.toString());
        assertEquals(0, code, out + "\n" + err);
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> a = loader.readTensors(served);
            Map<String, Tensor> b = loader.readTensors(generated);
            assertTrue(torch.equal(a.get("latents"), b.get("latents")), "latents differ");
            assertTrue(torch.equal(a.get("video"), b.get("video")), "video differs");
        }
    }

    /** Per-request plans within the world: ring 2 for one job, the default Ulysses 2 for the next; both run. */
    @Test
    @Order(5)
    void aRequestsOwnPlanRunsAndTheNextJobGoesBackToTheDefault() throws Exception {
        String ring = (String) ServeProcess.json(serve.postJson("/v1/videos", with(SMALL, "parallel",
                Map.of("ring", 2, "ulysses", 1)))).get("id");
        String plain = (String) ServeProcess.json(serve.postJson("/v1/videos", SMALL)).get("id");
        Map<String, Object> r = serve.awaitEnd(ring, Duration.ofMinutes(2));
        Map<String, Object> p = serve.awaitEnd(plain, Duration.ofMinutes(2));
        assertEquals("completed", r.get("status"), r.toString());
        assertEquals("completed", p.get("status"), p.toString());
        assertEquals("ring", ((Map<?, ?>) r.get("plan")).get("strategy"));
        assertEquals(2, ((Map<?, ?>) r.get("plan")).get("ring"));
        assertEquals("usp", ((Map<?, ?>) p.get("plan")).get("strategy"));
    }

    /** DELETE of a running job stops every rank within one step; the ranks are free for the next job. */
    @Test
    @Order(6)
    void cancelStopsTheRunningJobWithinOneStepAndTheNextJobCompletes() throws Exception {
        String id = (String) ServeProcess.json(serve.postJson("/v1/videos", with(SMALL, "num_inference_steps", 200))).get("id");
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (((Number) ServeProcess.json(serve.get("/v1/videos/" + id)).get("step")).intValue() < 2) {
            assertTrue(System.nanoTime() < deadline, "job never started stepping\n" + serve.output());
            Thread.sleep(50);
        }
        HttpResponse<String> cancel = serve.delete("/v1/videos/" + id);
        assertEquals(200, cancel.statusCode(), cancel.body());
        int stepAtCancel = ((Number) ServeProcess.json(cancel).get("step")).intValue();
        Map<String, Object> end = serve.awaitEnd(id, Duration.ofMinutes(1));
        assertEquals("failed", end.get("status"));
        @SuppressWarnings("unchecked")
        Map<String, Object> error = (Map<String, Object>) end.get("error");
        assertEquals("cancelled", error.get("code"), end.toString());
        Matcher m = Pattern.compile("step (\\d+) of 200").matcher(String.valueOf(error.get("message")));
        assertTrue(m.find(), error.toString());
        int stoppedAt = Integer.parseInt(m.group(1));
        assertTrue(stoppedAt >= stepAtCancel && stoppedAt <= stepAtCancel + 1, "cancelled at step " + stepAtCancel
                + ", stopped after step " + stoppedAt);
        assertEquals(409, serve.getBytes("/v1/videos/" + id + "/content").statusCode());

        String next = (String) ServeProcess.json(serve.postJson("/v1/videos", SMALL)).get("id");
        assertEquals("completed", serve.awaitEnd(next, Duration.ofMinutes(2)).get("status"));
        // A finished job can be deleted with its file.
        assertEquals(200, serve.delete("/v1/videos/" + next).statusCode());
        assertEquals(404, serve.get("/v1/videos/" + next).statusCode());
        assertFalse(Files.exists(tmp.resolve("out").resolve(next + ".mp4")));
    }

    /**
     * The official OpenAI Python SDK ({@code videos.create}, {@code poll}, {@code retrieve},
     * {@code download_content}, {@code list}) through tools/openai_sdk_check.py. Needs a Python with
     * the {@code openai} package: $IO_DIFFUSE_OPENAI_PYTHON, else python3 (.ci/run installs it into a
     * virtual environment); skipped, saying so, where there is none.
     */
    @Test
    @Order(7)
    void theOfficialOpenAiPythonSdkCreatesPollsAndDownloads() throws Exception {
        String python = System.getenv().getOrDefault("IO_DIFFUSE_OPENAI_PYTHON", "python3");
        boolean hasSdk;
        try {
            Process probe = new ProcessBuilder(python, "-c", "import openai").redirectErrorStream(true).start();
            probe.getInputStream().readAllBytes();
            hasSdk = probe.waitFor() == 0;
        } catch (java.io.IOException e) {
            hasSdk = false;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(hasSdk, python + " cannot import openai (pip install openai, or set"
                + " IO_DIFFUSE_OPENAI_PYTHON)");
        Path script = Path.of("..", "tools", "openai_sdk_check.py").toAbsolutePath().normalize();
        Path mp4 = tmp.resolve("sdk.mp4");
        Process p = new ProcessBuilder(python, "-W", "ignore", script.toString(), serve.base, "", mp4.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), log + "\n" + serve.output());
        assertTrue(log.contains("ok: "), log);
        assertTrue(isMp4(Files.readAllBytes(mp4)));
    }

    /**
     * 12 clients at once against a queue of 4: each request is either admitted (and then completes)
     * or refused with 429 and Retry-After; none is lost or duplicated; the gauges return to 0.
     */
    @Test
    @Order(8)
    void boundedLoadEveryRequestCompletesOrGets429AndTheGaugesReturnToZero() throws Exception {
        double refusedBefore = rejectedQueueFull();
        ExecutorService clients = Executors.newFixedThreadPool(12);
        List<Future<HttpResponse<String>>> sent = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            Map<String, Object> body = with(SMALL, "seed", 100 + i, "num_inference_steps", 10);
            sent.add(clients.submit(() -> serve.postJson("/v1/videos", body)));
        }
        Set<String> admitted = new HashSet<>();
        int refused = 0;
        for (Future<HttpResponse<String>> f : sent) {
            HttpResponse<String> r = f.get();
            if (r.statusCode() == 200) {
                assertTrue(admitted.add((String) ServeProcess.json(r).get("id")), "duplicate id");
            } else {
                assertEquals(429, r.statusCode(), r.body());
                assertTrue(r.headers().firstValue("retry-after").isPresent());
                refused++;
            }
        }
        clients.shutdown();
        assertEquals(12, admitted.size() + refused);
        assertTrue(refused >= 1, "a queue of 4 refused none of 12 simultaneous requests");
        assertTrue(admitted.size() >= 5, "admitted " + admitted.size() + " (1 running + 4 queued at least)");
        for (String id : admitted) {
            assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(3)).get("status"));
        }
        // None lost or duplicated: the job list holds each admitted job exactly once; every refusal was counted.
        List<?> listed = (List<?>) ServeProcess.json(serve.get("/v1/videos?limit=100")).get("data");
        List<Object> ids = listed.stream().map(j -> ((Map<?, ?>) j).get("id")).filter(admitted::contains)
                .collect(java.util.stream.Collectors.toList());
        assertEquals(admitted.size(), ids.size(), "listed " + ids);
        assertEquals(admitted, new HashSet<>(ids));
        assertEquals(refusedBefore + refused, rejectedQueueFull());
        assertEquals(0.0, serve.metric("diffuse_queue_depth"));
        assertEquals(0.0, serve.metric("diffuse_jobs_running"));
    }

    private double rejectedQueueFull() throws Exception {
        for (String line : serve.get("/metrics").body().split("\n")) {
            if (line.startsWith("diffuse_requests_rejected_total{reason=\"queue_full\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    /** SIGTERM: the running job finishes, the queued one fails with a reason, every process exits 0. */
    /**
     * The playground page at {@code /} in headless Chromium (Debian's {@code chromium}; .ci/run
     * installs it, the test is skipped, saying so, without it): the page submits the demo prompt as a
     * person would (multipart, like the form), follows the progress and loads the finished MP4 into its
     * video element, which reports the decoded frame size.
     */
    @Test
    @Order(9)
    void thePlaygroundPageSubmitsThePromptAndPlaysTheVideoInHeadlessChromium() throws Exception {
        String chromium = System.getenv().getOrDefault("IO_DIFFUSE_CHROMIUM", "chromium");
        boolean present;
        try {
            Process probe = new ProcessBuilder(chromium, "--version").redirectErrorStream(true).start();
            probe.getInputStream().readAllBytes();
            present = probe.waitFor() == 0;
        } catch (java.io.IOException e) {
            present = false;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(present, chromium + " not found (apt-get install chromium)");
        Path profile = Files.createDirectories(tmp.resolve("chromium-profile"));
        try (HeadlessChromium browser = new HeadlessChromium(chromium, profile, serve.base
                + "/?prompt=a%20cat%20in%20the%20playground&size=64x64&frames=5&steps=3&seed=5&autorun=1")) {
            String state = browser.await("document.body.dataset.state || ''", Duration.ofMinutes(2), "video-loaded",
                    "video-error", "error");
            assertEquals("video-loaded 64x64", state);
            assertTrue(browser.evaluate("document.getElementById('status').textContent").endsWith(": completed"));
        }
        Map<String, Object> list = ServeProcess.json(serve.get("/v1/videos?limit=1"));
        assertTrue(list.get("data").toString().contains("a cat in the playground"), list.toString());
    }

    /**
     * A soak of sequential jobs: every rank's resident memory stays flat (after a warm-up of 5 jobs,
     * the next 25 may add at most 64 MiB to any rank: allocator caches settle, a per-job leak of the
     * demo's tensors would exceed it).
     */
    @Test
    @Order(10)
    void thirtySequentialJobsKeepEveryRanksResidentMemoryFlat() throws Exception {
        long[] pids = {serve.rankPid(0), serve.rankPid(1)};
        long[] warm = null;
        for (int i = 0; i < 30; i++) {
            String id = (String) ServeProcess.json(serve.postJson("/v1/videos", with(SMALL, "num_inference_steps", 2,
                    "seed", i))).get("id");
            assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(1)).get("status"));
            assertEquals(200, serve.delete("/v1/videos/" + id).statusCode());
            if (i == 4) {
                warm = new long[] {rss(pids[0]), rss(pids[1])};
            }
        }
        // /metrics reports every rank's memory as the ranks last reported it (after each step and idle tick).
        String metrics = serve.get("/metrics").body();
        for (int r = 0; r < 2; r++) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("diffuse_rank_resident_bytes\\{rank=\"" + r
                    + "\",?\\} (\\S+)").matcher(metrics);
            assertTrue(m.find(), "no resident memory of rank " + r + " in /metrics:\n" + metrics);
            double reported = Double.parseDouble(m.group(1));
            long actual = rss(pids[r]);
            assertTrue(Math.abs(reported - actual) < 0.25 * actual, "rank " + r + ": /metrics says " + reported
                    + " bytes, /proc says " + actual);
        }
        for (int r = 0; r < 2; r++) {
            long grew = rss(pids[r]) - warm[r];
            System.out.println("soak: rank " + r + " resident memory grew by " + (grew >> 10) + " KiB over 25 jobs");
            assertTrue(grew < 64L << 20, "rank " + r + " grew by " + (grew >> 20) + " MiB over 25 jobs");
        }
    }

    private static long rss(long pid) throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new AssertionError("no VmRSS for " + pid);
    }

    /**
     * The admin endpoint's hot swap: PUT /admin/defaults (diffuse.* keys, as in a .cfg) changes the
     * default plan from the next job to start, while the running job keeps its plan; a request's own
     * parallel object still wins; a bad change (unknown strategy, unknown key, forbidden key, degrees
     * beyond the world) is a 400 naming the key and leaves the defaults as they were; DELETE restores
     * the server's plan. Without the admin key: 401.
     */
    @Test
    @Order(11)
    void adminDefaultsChangeThePlanOfTheNextJobAndBadChangesAreRefusedNamingTheKey() throws Exception {
        HttpResponse<String> anonymous = serve.get("/admin/defaults");
        assertEquals(401, anonymous.statusCode(), anonymous.body());
        assertEquals("invalid_admin_key", ((Map<?, ?>) ServeProcess.json(anonymous).get("error")).get("code"));
        assertEquals(401, serve.admin("/admin/defaults", "GET", "wrong-key", null).statusCode());
        HttpResponse<String> initial = serve.admin("/admin/defaults", "GET", ADMIN_KEY, null);
        assertEquals(200, initial.statusCode(), initial.body());
        assertEquals(Map.of(), ServeProcess.json(initial).get("overrides"));
        assertEquals("usp", ((Map<?, ?>) ServeProcess.json(initial).get("plan")).get("strategy"), initial.body());

        // A job that runs while the defaults change keeps the plan it started with.
        String running = (String) ServeProcess.json(serve.postJson("/v1/videos", with(SMALL, "num_inference_steps", 20)))
                .get("id");
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!"in_progress".equals(ServeProcess.json(serve.get("/v1/videos/" + running)).get("status"))
                && !"completed".equals(ServeProcess.json(serve.get("/v1/videos/" + running)).get("status"))) {
            assertTrue(System.nanoTime() < deadline, "job never started\n" + serve.output());
            Thread.sleep(20);
        }
        Map<String, Object> ring = Map.of("diffuse.parallel.strategy", "ring", "diffuse.parallel.ring", 2,
                "diffuse.parallel.ulysses", 1, "diffuse.generate.num-inference-steps", 3);
        HttpResponse<String> put = serve.admin("/admin/defaults", "PUT", ADMIN_KEY, ring);
        assertEquals(200, put.statusCode(), put.body());
        Map<?, ?> putPlan = (Map<?, ?>) ServeProcess.json(put).get("plan");
        assertEquals("ring", putPlan.get("strategy"), put.body());
        assertEquals(2, putPlan.get("ring"));
        assertEquals(1, putPlan.get("ulysses"));
        assertEquals(3, ((Map<?, ?>) ServeProcess.json(put).get("request_defaults")).get("num_inference_steps"));

        Map<String, Object> noSteps = new LinkedHashMap<>(SMALL);
        noSteps.remove("num_inference_steps");
        String next = (String) ServeProcess.json(serve.postJson("/v1/videos", noSteps)).get("id");
        String own = (String) ServeProcess.json(serve.postJson("/v1/videos", with(SMALL, "parallel",
                Map.of("strategy", "usp", "ulysses", 2, "ring", 1)))).get("id");
        Map<String, Object> r = serve.awaitEnd(running, Duration.ofMinutes(2));
        Map<String, Object> n = serve.awaitEnd(next, Duration.ofMinutes(2));
        Map<String, Object> o = serve.awaitEnd(own, Duration.ofMinutes(2));
        assertEquals("completed", r.get("status"), r.toString());
        assertEquals("completed", n.get("status"), n.toString());
        assertEquals("completed", o.get("status"), o.toString());
        assertEquals("usp", ((Map<?, ?>) r.get("plan")).get("strategy"), "the running job keeps its plan: " + r);
        assertEquals("ring", ((Map<?, ?>) n.get("plan")).get("strategy"), n.toString());
        assertEquals(2, ((Map<?, ?>) n.get("plan")).get("ring"), n.toString());
        assertEquals(3, n.get("steps"), "the admin default num-inference-steps: " + n);
        assertEquals("usp", ((Map<?, ?>) o.get("plan")).get("strategy"), "the request's parallel object wins: " + o);
        assertEquals(2, ((Map<?, ?>) o.get("plan")).get("ulysses"), o.toString());
        assertEquals(4, o.get("steps"), "the request's own steps win: " + o);

        Object[][] bad = {
            {"PUT", Map.of("diffuse.parallel.strategy", "bogus"), "diffuse.parallel.strategy", "bogus"},
            {"PUT", Map.of("diffuse.parallel.ringg", 2), "diffuse.parallel.ringg", "diffuse.parallel.ring"},
            {"PUT", Map.of("diffuse.generate.model", "builtin:other"), "diffuse.generate.model", "decided by the server"},
            {"PATCH", Map.of("diffuse.serve.max-queue", 100), "diffuse.serve.max-queue", "cannot be an admin default"},
            {"PATCH", Map.of("diffuse.parallel.ulysses", 2), "diffuse.parallel.ulysses", "2"},
        };
        for (Object[] c : bad) {
            HttpResponse<String> refused = serve.admin("/admin/defaults", (String) c[0], ADMIN_KEY, c[1]);
            assertEquals(400, refused.statusCode(), c[1] + ": " + refused.body());
            Map<?, ?> error = (Map<?, ?>) ServeProcess.json(refused).get("error");
            assertEquals("invalid_request_error", error.get("type"), refused.body());
            assertEquals(c[2], error.get("param"), refused.body());
            assertTrue(String.valueOf(error.get("message")).contains((String) c[3]), refused.body());
            Map<String, Object> still = ServeProcess.json(serve.admin("/admin/defaults", "GET", ADMIN_KEY, null));
            assertEquals(ring, still.get("overrides"), "a refused change leaves the defaults: " + still);
        }

        // Kept on disk, as ConfigAdmin keeps its configurations (a restart keeps them: the last test).
        Path saved = tmp.resolve("out").resolve("admin-defaults.json");
        assertEquals(ring, ServeProcess.JSON.readValue(saved.toFile(), Map.class));

        HttpResponse<String> cleared = serve.admin("/admin/defaults", "DELETE", ADMIN_KEY, null);
        assertEquals(200, cleared.statusCode(), cleared.body());
        assertEquals(Map.of(), ServeProcess.json(cleared).get("overrides"));
        String after = (String) ServeProcess.json(serve.postJson("/v1/videos", SMALL)).get("id");
        Map<String, Object> a = serve.awaitEnd(after, Duration.ofMinutes(2));
        assertEquals("completed", a.get("status"), a.toString());
        assertEquals("usp", ((Map<?, ?>) a.get("plan")).get("strategy"), "DELETE restores the server's plan: " + a);
        assertEquals(2, ((Map<?, ?>) a.get("plan")).get("ulysses"));
        assertFalse(Files.exists(saved), "DELETE removes the saved defaults");
        // For the last test: defaults that a new server on the same folder brings back.
        assertEquals(200, serve.admin("/admin/defaults", "PATCH", ADMIN_KEY, Map.of("diffuse.generate.num-inference-steps",
                3)).statusCode());
    }

    @Test
    @Order(12)
    void sigtermFinishesTheRunningJobFailsTheQueuedOneAndExitsZero() throws Exception {
        String running = (String) ServeProcess.json(serve.postJson("/v1/videos", with(SMALL, "num_inference_steps", 30)))
                .get("id");
        String queued = (String) ServeProcess.json(serve.postJson("/v1/videos", SMALL)).get("id");
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (((Number) ServeProcess.json(serve.get("/v1/videos/" + running)).get("step")).intValue() < 1) {
            assertTrue(System.nanoTime() < deadline);
            Thread.sleep(50);
        }
        serve.launcher.toHandle().destroy(); // SIGTERM, as a supervisor sends it
        assertTrue(serve.launcher.waitFor(2, java.util.concurrent.TimeUnit.MINUTES));
        assertEquals(0, serve.launcher.exitValue(), serve.output());
        String log = serve.output();
        assertTrue(log.contains(running + " completed"), log);
        assertTrue(log.contains(queued + " failed (shutting_down)"), log);
    }

    /** A new server on the same output folder (as after a restart) brings back the admin defaults, checked again. */
    @Test
    @Order(13)
    void theAdminDefaultsSurviveARestart() throws Exception {
        try (ServeProcess again = new ServeProcess(tmp.resolve("out"), Map.of("DIFFUSE_SERVE_ADMIN__KEY", ADMIN_KEY))) {
            again.awaitReady(Duration.ofMinutes(3));
            Map<String, Object> restored = ServeProcess.json(again.admin("/admin/defaults", "GET", ADMIN_KEY, null));
            assertEquals(Map.of("diffuse.generate.num-inference-steps", 3), restored.get("overrides"), restored.toString());
            assertEquals(3, ((Map<?, ?>) restored.get("request_defaults")).get("num_inference_steps"), restored.toString());
        }
    }
}
