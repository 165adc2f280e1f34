package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * What a web page in the user's browser, or a careless client, can make the server do: one
 * {@code diffuse serve} of the demo listening on every interface without an API key (as an operator
 * might start it), with one allowed CORS origin and one allowed host name, driven over loopback with
 * raw sockets (Host), java.net.http (Origin, Content-Type, bodies) and headless Chromium (a real
 * browser's cross-origin requests).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeRequestGuardTest {
    private static final String SMALL = "{\"prompt\": \"a cat\", \"size\": \"64x64\", \"num_frames\": 5, \"num_inference_steps\": 2}";

    private Path tmp;
    private ServeProcess serve;
    private int port;
    private String allowedOrigin;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("serve-guard-test");
        port = ServeProcess.freePort();
        allowedOrigin = "http://localhost:" + port;
        serve = new ServeProcess(port, tmp.resolve("out"), Map.of(), "--host", "0.0.0.0", "-C",
                "diffuse.serve.cors-origins=" + allowedOrigin, "-C", "diffuse.serve.allowed-hosts=diffuse.internal")
                .awaitReady(Duration.ofMinutes(3));
        serve.base = "http://127.0.0.1:" + port;
    }

    @AfterAll
    void stop() throws Exception {
        serve.close();
        try (var files = Files.walk(tmp)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private int jobCount() throws Exception {
        return ((List<?>) ServeProcess.json(serve.get("/v1/videos?limit=100")).get("data")).size();
    }

    private HttpResponse<String> post(String contentType, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(serve.base + "/v1/videos")).timeout(Duration.ofSeconds(60));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return serve.http.send(b.POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static Map<?, ?> error(String body) throws Exception {
        return (Map<?, ?>) ServeProcess.JSON.readValue(body, Map.class).get("error");
    }

    @Test
    @Order(1)
    void listeningBeyondLoopbackWithoutAKeySaysSoAtStart() {
        assertTrue(serve.output().contains("(not loopback) without an API key"), serve.output());
    }

    /** DNS rebinding: a page under the attacker's name reaches the server, but its requests carry that name. */
    @Test
    @Order(2)
    void aHostHeaderWithAnotherNameIsRefusedAndAddressesLocalhostAndAllowedNamesAreServed() throws Exception {
        for (String host : List.of("rebind.attacker.example:" + port, "attacker.example", "diffuse.internal.attacker.example")) {
            RawHttp.Answer a = RawHttp.request(port, "GET", "/v1/videos", host, null);
            assertEquals(403, a.status(), host + ": " + a.body());
            assertEquals("host_not_allowed", error(a.body()).get("code"), a.body());
            assertTrue(String.valueOf(error(a.body()).get("message")).contains("diffuse.serve.allowed-hosts"), a.body());
            RawHttp.Answer create = RawHttp.request(port, "POST", "/v1/videos", host, SMALL, "Content-Type: application/json");
            assertEquals(403, create.status(), create.body());
        }
        for (String host : List.of("127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port, "diffuse.internal",
                "Diffuse.Internal:" + port, "10.20.30.40:" + port, "[2001:db8::1]:" + port)) {
            RawHttp.Answer a = RawHttp.request(port, "GET", "/v1/videos", host, null);
            assertEquals(200, a.status(), host + ": " + a.body());
        }
        assertEquals(0, jobCount(), "refused requests created no job");
    }

    @Test
    @Order(3)
    void crossOriginRequestsAreRefusedUnlessCorsOriginsAllowThemAndAllowedOnesGetCorsAnswers() throws Exception {
        for (String origin : List.of("http://attacker.example", "null", "http://localhost:" + (port + 1),
                "https://localhost:" + port)) {
            HttpResponse<String> r = post("application/json", SMALL, "Origin", origin);
            assertEquals(403, r.statusCode(), origin + ": " + r.body());
            assertEquals("origin_not_allowed", error(r.body()).get("code"), r.body());
            assertTrue(String.valueOf(error(r.body()).get("message")).contains("diffuse.serve.cors-origins"), r.body());
            assertTrue(r.headers().firstValue("access-control-allow-origin").isEmpty());
            RawHttp.Answer preflight = RawHttp.request(port, "OPTIONS", "/v1/videos", "127.0.0.1:" + port, null,
                    "Origin: " + origin, "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type");
            assertEquals(403, preflight.status(), preflight.body());
            assertNull(preflight.header("access-control-allow-origin"));
        }
        assertEquals(0, jobCount(), "refused cross-origin requests created no job");

        RawHttp.Answer preflight = RawHttp.request(port, "OPTIONS", "/v1/videos", "127.0.0.1:" + port, null,
                "Origin: " + allowedOrigin, "Access-Control-Request-Method: POST",
                "Access-Control-Request-Headers: authorization, content-type");
        assertEquals(200, preflight.status(), preflight.headers() + " " + preflight.body());
        assertEquals(allowedOrigin, preflight.header("access-control-allow-origin"));
        assertTrue(preflight.header("access-control-allow-methods").contains("POST"), preflight.headers().toString());
        assertTrue(preflight.header("access-control-allow-headers").contains("Authorization"), preflight.headers().toString());
        HttpResponse<String> allowed = post("application/json", SMALL, "Origin", allowedOrigin);
        assertEquals(200, allowed.statusCode(), allowed.body());
        assertEquals(allowedOrigin, allowed.headers().firstValue("access-control-allow-origin").orElse(null));
        assertTrue(allowed.headers().firstValue("access-control-expose-headers").orElse("").contains("openai-poll-after-ms"));
        // The server's own pages (the playground) are same-origin: no CORS needed.
        HttpResponse<String> same = post("application/json", SMALL, "Origin", serve.base);
        assertEquals(200, same.statusCode(), same.body());
        assertTrue(same.headers().firstValue("access-control-allow-origin").isEmpty());
        for (HttpResponse<String> r : List.of(allowed, same)) {
            String id = (String) ServeProcess.json(r).get("id");
            assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"));
            assertEquals(200, serve.delete("/v1/videos/" + id).statusCode());
        }
    }

    /** A page may POST text/plain anywhere without a preflight: only a body that says it is JSON is read as JSON. */
    @Test
    @Order(4)
    void aJsonBodyIsReadOnlyAsApplicationJsonOthersAre415() throws Exception {
        for (String type : new String[] {"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", null}) {
            HttpResponse<String> r = post(type, SMALL);
            assertEquals(415, r.statusCode(), type + ": " + r.body());
            Map<?, ?> e = error(r.body());
            assertEquals("unsupported_media_type", e.get("code"), r.body());
            assertTrue(String.valueOf(e.get("message")).contains("application/json"), r.body());
        }
        assertEquals(0, jobCount(), "a text/plain body created no job");
        HttpResponse<String> json = post("application/json; charset=utf-8", SMALL);
        assertEquals(200, json.statusCode(), json.body());
        String id = (String) ServeProcess.json(json).get("id");
        assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"));
        assertEquals(200, serve.delete("/v1/videos/" + id).statusCode());
    }

    @Test
    @Order(5)
    void bodiesAreParsedStrictlyAndWrongValuesAre400sNamingTheField() throws Exception {
        Object[][] cases = {
            {"{\"prompt\": \"a cat\", \"prompt\": \"a dog\"}", "prompt", "more than once"},
            {"{\"prompt\": \"a cat\", \"parallel\": {\"ulysses\": 2, \"ulysses\": 1}}", "ulysses", "more than once"},
            {"{\"prompt\": \"a cat\"} {\"prompt\": \"a dog\"}", null, "more after"},
            {"{\"prompt\": \"a cat\"} trailing", null, "not valid JSON"},
            {"{\"prompt\": 42}", "prompt", "must be a string"},
            {"{\"prompt\": [\"a\", \"cat\"]}", "prompt", "must be a string"},
            {"{\"prompt\": {\"text\": \"a cat\"}}", "prompt", "must be a string"},
            {"{\"prompt\": true}", "prompt", "must be a string"},
            {"{\"prompt\": \"a cat\", \"negative_prompt\": 7}", "negative_prompt", "must be a string"},
            {"{\"prompt\": \"a cat\", \"size\": \"0x0\"}", "size", "1..16384"},
            {"{\"prompt\": \"a cat\", \"size\": \"64x0\"}", "size", "1..16384"},
            {"{\"prompt\": \"a cat\", \"seconds\": \"1e19\"}", "seconds", "max-frames"},
            {"{\"prompt\": \"a cat\", \"seconds\": \"1e300\"}", "seconds", "max-frames"},
            {"{\"prompt\": \"a cat\", \"seconds\": 1e19}", "seconds", "max-frames"},
            {"{\"prompt\": \"a cat\", \"seconds\": \"Infinity\"}", "seconds", "positive, finite"},
            {"{\"prompt\": \"a cat\", \"seconds\": \"NaN\"}", "seconds", "positive, finite"},
            {"{\"prompt\": \"a cat\", \"seconds\": \"-1\"}", "seconds", "positive, finite"},
            {"{\"prompt\": \"a cat\", \"seconds\": [1]}", "seconds", "not an array"},
        };
        for (Object[] c : cases) {
            HttpResponse<String> r = post("application/json", (String) c[0]);
            assertEquals(400, r.statusCode(), c[0] + ": " + r.body());
            Map<?, ?> e = error(r.body());
            assertEquals("invalid_request_error", e.get("type"), r.body());
            assertEquals(c[1], e.get("param"), c[0] + ": " + r.body());
            String message = String.valueOf(e.get("message"));
            assertTrue(message.contains((String) c[2]), c[0] + ": " + r.body());
            assertFalse(message.contains("num_frames = -"), r.body());
        }
        assertEquals(0, jobCount(), "no refused body created a job");
        assertEquals(0.0, serve.metric("diffuse_queue_depth"));
    }

    /** Answers Jetty gives before the API sees the request come in the OpenAI error body too, not as HTML. */
    @Test
    @Order(6)
    void jettysOwnBadRequestUriTooLongAndHeadersTooLargeAnswersAreTheOpenAiErrorBody() throws Exception {
        RawHttp.Answer garbage = RawHttp.send(port, "NOT HTTP AT ALL\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        RawHttp.Answer noHost = RawHttp.send(port, "GET /v1/videos HTTP/1.1\r\nConnection: close\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
        RawHttp.Answer longUri = RawHttp.request(port, "GET", "/v1/videos?after=" + "x".repeat(20_000), "127.0.0.1", null);
        RawHttp.Answer bigHeaders = RawHttp.request(port, "GET", "/v1/videos", "127.0.0.1", null, "X-Big: " + "y".repeat(20_000));
        Object[][] expected = {{garbage, 400}, {noHost, 400}, {longUri, 414}, {bigHeaders, 431}};
        for (Object[] c : expected) {
            RawHttp.Answer a = (RawHttp.Answer) c[0];
            assertEquals(c[1], a.status(), a.headers() + " " + a.body());
            assertTrue(String.valueOf(a.header("content-type")).startsWith("application/json"), a.headers() + " " + a.body());
            Map<?, ?> e = error(a.body());
            assertEquals("invalid_request_error", e.get("type"), a.body());
            assertTrue(String.valueOf(e.get("message")).startsWith("HTTP " + c[1]), a.body());
        }
    }

    /** The playground's autorun submits only what the user opened directly, not what another site sent the browser to. */
    @Test
    @Order(7)
    void aCrossSiteNavigationToThePlaygroundWithAutorunIsRedirectedWithoutIt() throws Exception {
        String path = "/?prompt=a%20cat&autorun=1&size=64x64";
        for (String site : List.of("cross-site", "same-site")) {
            RawHttp.Answer a = RawHttp.request(port, "GET", path, "127.0.0.1:" + port, null, "Sec-Fetch-Site: " + site);
            assertEquals(303, a.status(), site + ": " + a.headers());
            assertEquals("/?prompt=a%20cat&size=64x64", a.header("location"));
        }
        for (String site : new String[] {"none", "same-origin", null}) {
            RawHttp.Answer a = site == null ? RawHttp.request(port, "GET", path, "127.0.0.1:" + port, null)
                    : RawHttp.request(port, "GET", path, "127.0.0.1:" + port, null, "Sec-Fetch-Site: " + site);
            assertEquals(200, a.status(), site + ": " + a.headers());
            assertTrue(a.body().contains("Diffuse playground"));
        }
    }

    /**
     * A real browser: a page of another origin (http://127.0.0.2:PORT, the same server under another
     * address) posts to the API as an attacker's page would, a simple text/plain POST (no preflight)
     * and a JSON one (preflight): both fail in the page and create no job; it sends the browser to the
     * playground with autorun, which does not submit. A page of the allowed
     * origin (http://localhost:PORT) makes the same JSON request, with an Authorization header, and
     * gets the job.
     */
    @Test
    @Order(8)
    void inHeadlessChromiumAPageOfAnotherOriginCannotCreateJobsAndAnAllowedOriginCan() throws Exception {
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
        String target = "http://127.0.0.1:" + port + "/v1/videos";
        String body = ServeProcess.JSON.writeValueAsString(SMALL);
        Path profile = Files.createDirectories(tmp.resolve("chromium-profile"));
        try (HeadlessChromium browser = new HeadlessChromium(chromium, profile, "http://127.0.0.2:" + port + "/")) {
            browser.await("document.readyState", Duration.ofSeconds(30), "complete");
            browser.evaluate("window.simple = null; fetch('" + target + "', {method: 'POST', body: " + body
                    + "}).then(r => window.simple = 'status ' + r.status, e => window.simple = 'failed ' + e); 0");
            assertTrue(browser.await("window.simple || ''", Duration.ofSeconds(30), "status", "failed").startsWith("failed"));
            browser.evaluate("window.json = null; fetch('" + target + "', {method: 'POST', headers: {'Content-Type':"
                    + " 'application/json'}, body: " + body + "}).then(r => window.json = 'status ' + r.status, e => window.json"
                    + " = 'failed ' + e); 0");
            assertTrue(browser.await("window.json || ''", Duration.ofSeconds(30), "status", "failed").startsWith("failed"));
            assertEquals(0, jobCount(), "the other origin's page created a job");

            // A link from another site to the playground with autorun fills the form but does not submit it.
            browser.evaluate("location.href = 'http://127.0.0.1:" + port + "/?prompt=rebound&size=64x64&frames=5&steps=2"
                    + "&autorun=1'; 0");
            browser.await("location.href + ' ' + document.readyState", Duration.ofSeconds(30), "http://127.0.0.1:" + port
                    + "/?prompt=rebound&size=64x64&frames=5&steps=2 complete");
            assertEquals("rebound", browser.evaluate("document.getElementById('prompt').value"));
            Thread.sleep(2000);
            assertEquals(0, jobCount(), "a cross-site link's autorun created a job");

            browser.evaluate("location.href = '" + allowedOrigin + "/'; 0");
            browser.await("location.origin + ' ' + document.readyState", Duration.ofSeconds(30), allowedOrigin + " complete");
            browser.evaluate("window.allowed = null; fetch('" + target + "', {method: 'POST', headers: {'Content-Type':"
                    + " 'application/json', 'Authorization': 'Bearer none'}, body: " + body + "}).then(r => r.json()).then(j =>"
                    + " window.allowed = 'id ' + j.id, e => window.allowed = 'failed ' + e); 0");
            String allowed = browser.await("window.allowed || ''", Duration.ofSeconds(30), "id", "failed");
            assertTrue(allowed.startsWith("id video_"), allowed);
            String id = allowed.substring(3);
            assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"));
        }
    }
}
