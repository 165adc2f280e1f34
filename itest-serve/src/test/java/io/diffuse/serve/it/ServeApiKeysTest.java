package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Several API keys on one loopback server: the single {@code diffuse.serve.api-key} (from the
 * environment, as before) and {@code diffuse.serve.api-keys}; each key sees and uses only the jobs it
 * created. Also the Host rule of a loopback server, which stops a DNS-rebinding page from reading the
 * list or changing {@code /admin/defaults}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeApiKeysTest {
    private static final Map<String, Object> SMALL = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5,
            "num_inference_steps", 2);
    private static final String LEGACY = "legacy-key";
    private static final String ALICE = "alice-key";
    private static final String BOB = "bob-key";

    private Path tmp;
    private ServeProcess serve;
    private int port;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("serve-keys-test");
        serve = new ServeProcess(tmp.resolve("out"), Map.of("DIFFUSE_SERVE_API__KEY", LEGACY), "-C",
                "diffuse.serve.api-keys=" + ALICE + "," + BOB).awaitReady(Duration.ofMinutes(3));
        port = URI.create(serve.base).getPort();
    }

    @AfterAll
    void stop() throws Exception {
        serve.close();
        try (var files = Files.walk(tmp)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private HttpResponse<String> call(String method, String path, String authorization, Map<String, Object> body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(serve.base + path)).timeout(Duration.ofSeconds(60));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        b = body == null ? b.method(method, HttpRequest.BodyPublishers.noBody()) : b.header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofByteArray(ServeProcess.JSON.writeValueAsBytes(body)));
        return serve.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private String create(String key) throws Exception {
        HttpResponse<String> r = call("POST", "/v1/videos", "Bearer " + key, SMALL);
        assertEquals(200, r.statusCode(), r.body());
        return (String) ServeProcess.json(r).get("id");
    }

    private List<Object> listed(String key) throws Exception {
        HttpResponse<String> r = call("GET", "/v1/videos?limit=100", "Bearer " + key, null);
        assertEquals(200, r.statusCode(), r.body());
        return ((List<?>) ServeProcess.json(r).get("data")).stream().map(j -> ((Map<?, ?>) j).get("id"))
                .collect(Collectors.toList());
    }

    @Test
    @Order(1)
    void everyConfiguredKeyIsAcceptedWithTheSchemeInAnyCaseAndOthersAre401() throws Exception {
        assertFalse(serve.output().contains("without an API key"), "a loopback server with keys does not warn");
        for (String auth : new String[] {null, "Bearer wrong", "Bearer", "Basic " + ALICE, ALICE, "Bearer " + ALICE + "x"}) {
            HttpResponse<String> r = call("GET", "/v1/videos", auth, null);
            assertEquals(401, r.statusCode(), auth + ": " + r.body());
            assertEquals("invalid_api_key", ((Map<?, ?>) ServeProcess.json(r).get("error")).get("code"));
        }
        for (String auth : new String[] {"Bearer " + LEGACY, "Bearer " + ALICE, "Bearer " + BOB, "bearer " + ALICE,
            "BEARER " + BOB, "  bearer   " + ALICE + " "}) {
            HttpResponse<String> r = call("GET", "/v1/videos", auth, null);
            assertEquals(200, r.statusCode(), auth + ": " + r.body());
        }
    }

    @Test
    @Order(2)
    void eachKeyListsReadsAndDeletesOnlyTheJobsItCreated() throws Exception {
        String a = create(ALICE);
        String b = create(BOB);
        String l = create(LEGACY);
        for (String id : List.of(a, b, l)) {
            String key = id.equals(a) ? ALICE : id.equals(b) ? BOB : LEGACY;
            HttpResponse<String> r = call("GET", "/v1/videos/" + id, "Bearer " + key, null);
            assertEquals(200, r.statusCode(), r.body());
        }
        assertEquals(List.of(a), listed(ALICE));
        assertEquals(List.of(b), listed(BOB));
        assertEquals(List.of(l), listed(LEGACY));
        // Another key's job is not found, whatever it asks of it.
        for (String path : List.of("/v1/videos/" + a, "/v1/videos/" + a + "/content")) {
            HttpResponse<String> r = call("GET", path, "Bearer " + BOB, null);
            assertEquals(404, r.statusCode(), path + ": " + r.body());
        }
        assertEquals(404, call("DELETE", "/v1/videos/" + a, "Bearer " + BOB, null).statusCode());
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        for (String id : List.of(a, b, l)) {
            String key = id.equals(a) ? ALICE : id.equals(b) ? BOB : LEGACY;
            while (true) {
                Map<String, Object> job = ServeProcess.json(call("GET", "/v1/videos/" + id, "Bearer " + key, null));
                if ("completed".equals(job.get("status"))) {
                    break;
                }
                assertFalse("failed".equals(job.get("status")), job.toString());
                assertTrue(System.nanoTime() < deadline, id + " did not complete\n" + serve.output());
                Thread.sleep(100);
            }
        }
        assertEquals(200, call("GET", "/v1/videos/" + a + "/content", "Bearer " + ALICE, null).statusCode());
        assertEquals(404, call("GET", "/v1/videos/" + a + "/content", "Bearer " + LEGACY, null).statusCode());
        assertEquals(200, call("DELETE", "/v1/videos/" + a, "Bearer " + ALICE, null).statusCode());
        assertEquals(List.of(), listed(ALICE));
        assertEquals(List.of(b), listed(BOB), "alice's delete left bob's job");
    }

    /** The official OpenAI Python SDK with one of several keys: it creates, polls, lists its own job and downloads it. */
    @Test
    @Order(3)
    void theOpenAiPythonSdkWithOneOfSeveralKeysSeesItsOwnJobsOnly() throws Exception {
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
        List<Object> bobBefore = listed(BOB);
        Path script = Path.of("..", "tools", "openai_sdk_check.py").toAbsolutePath().normalize();
        Path mp4 = tmp.resolve("sdk.mp4");
        Process p = new ProcessBuilder(python, "-W", "ignore", script.toString(), serve.base, ALICE, mp4.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), log + "\n" + serve.output());
        assertTrue(log.contains("listed among 1 jobs"), "alice's list holds only her SDK job: " + log);
        assertEquals(bobBefore, listed(BOB), "bob does not see alice's SDK job");
        Process wrong = new ProcessBuilder(python, "-W", "ignore", script.toString(), serve.base, "not-a-key", mp4.toString())
                .redirectErrorStream(true).start();
        String refused = new String(wrong.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(wrong.waitFor() != 0, refused);
        assertTrue(refused.contains("401"), refused);
    }

    /** DNS rebinding against a loopback server: the page's name is in Host; the list and the admin defaults refuse it. */
    @Test
    @Order(4)
    void onLoopbackOnlyLoopbackNamesAndAddressesAreServed() throws Exception {
        String auth = "Authorization: Bearer " + ALICE;
        for (String host : List.of("rebind.attacker.example:" + port, "10.20.30.40:" + port, "0.0.0.0:" + port)) {
            RawHttp.Answer list = RawHttp.request(port, "GET", "/v1/videos", host, null, auth);
            assertEquals(403, list.status(), host + ": " + list.body());
            RawHttp.Answer admin = RawHttp.request(port, "PATCH", "/admin/defaults", host,
                    "{\"diffuse.generate.num-inference-steps\": 3}", auth, "Content-Type: application/json");
            assertEquals(403, admin.status(), host + ": " + admin.body());
            assertTrue(admin.body().contains("host_not_allowed"), admin.body());
        }
        for (String host : List.of("127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "127.0.0.1")) {
            RawHttp.Answer list = RawHttp.request(port, "GET", "/v1/videos", host, null, auth);
            assertEquals(200, list.status(), host + ": " + list.body());
        }
        // The admin defaults (loopback, no admin key: the API key rule) read JSON only as application/json.
        RawHttp.Answer plain = RawHttp.request(port, "PATCH", "/admin/defaults", "localhost:" + port,
                "{\"diffuse.generate.num-inference-steps\": 3}", auth, "Content-Type: text/plain");
        assertEquals(415, plain.status(), plain.body());
        HttpResponse<String> defaults = call("GET", "/admin/defaults", "Bearer " + ALICE, null);
        assertEquals(Map.of(), ServeProcess.json(defaults).get("overrides"), defaults.body());
    }

    /** A new server on the same output folder: each job still belongs to the key that created it. */
    @Test
    @Order(5)
    void afterARestartEachJobStillBelongsToItsKey() throws Exception {
        List<Object> bob = listed(BOB);
        assertFalse(bob.isEmpty());
        serve.launcher.toHandle().destroy(); // SIGTERM: the ranks stop with it
        assertTrue(serve.launcher.waitFor(2, java.util.concurrent.TimeUnit.MINUTES), serve.output());
        serve = new ServeProcess(tmp.resolve("out"), Map.of("DIFFUSE_SERVE_API__KEYS", ALICE + "," + BOB))
                .awaitReady(Duration.ofMinutes(3));
        assertEquals(bob, listed(BOB));
        assertFalse(listed(ALICE).stream().anyMatch(bob::contains));
        assertEquals(404, call("GET", "/v1/videos/" + bob.get(0), "Bearer " + ALICE, null).statusCode());
        assertEquals(200, call("GET", "/v1/videos/" + bob.get(0), "Bearer " + BOB, null).statusCode());
    }
}
