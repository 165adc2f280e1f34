package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server with an API key (which, without an admin key, also guards /admin/defaults, whose
 * overrides beat the server's start flags) whose rank 1 is killed (SIGKILL) during a job: the job fails naming
 * rank 1, /ready turns 503, the queued job fails too, and the server exits non-zero promptly.
 */
class ServeFaultTest {
    @TempDir
    Path tmp;

    @Test
    void sigkillOfRankOneFailsTheJobNamingRankOneReadyGoes503AndTheServerExitsNonZero() throws Exception {
        try (ServeProcess serve = new ServeProcess(tmp, Map.of("DIFFUSE_SERVE_API__KEY", "s3cret"), "-C",
                "diffuse.serve.fault-linger=2s", "--nproc", "2", "--strategy", "ulysses")) {
            serve.awaitReady(Duration.ofMinutes(3));
            HttpResponse<String> anonymous = serve.get("/v1/videos");
            assertEquals(401, anonymous.statusCode(), anonymous.body());
            assertEquals("authentication_error", ((Map<?, ?>) ServeProcess.json(anonymous).get("error")).get("type"));
            assertEquals(200, serve.get("/health").statusCode(), "liveness needs no key");
            // No admin key on a loopback server: the admin endpoints follow the API key rule.
            assertEquals(401, serve.admin("/admin/defaults", "GET", null, null).statusCode());
            HttpResponse<String> admin = serve.admin("/admin/defaults", "GET", "s3cret", null);
            assertEquals(200, admin.statusCode(), admin.body());
            assertEquals(Map.of(), ServeProcess.json(admin).get("overrides"));
            assertEquals("ulysses", ((Map<?, ?>) ServeProcess.json(admin).get("plan")).get("strategy"), admin.body());
            // Admin defaults beat the server's start flags (--strategy ulysses).
            HttpResponse<String> ring = serve.admin("/admin/defaults", "PUT", "s3cret", Map.of("diffuse.parallel.strategy",
                    "ring", "diffuse.parallel.ring", 2, "diffuse.parallel.ulysses", 1));
            assertEquals(200, ring.statusCode(), ring.body());
            assertEquals("ring", ((Map<?, ?>) ServeProcess.json(ring).get("plan")).get("strategy"), ring.body());
            HttpResponse<String> cleared = serve.admin("/admin/defaults", "DELETE", "s3cret", null);
            assertEquals("ulysses", ((Map<?, ?>) ServeProcess.json(cleared).get("plan")).get("strategy"), cleared.body());
            serve.apiKey = "s3cret";

            Map<String, Object> request = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5,
                    "num_inference_steps", 200, "seed", 1);
            String id = (String) ServeProcess.json(serve.postJson("/v1/videos", request)).get("id");
            String queued = (String) ServeProcess.json(serve.postJson("/v1/videos", request)).get("id");
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (((Number) ServeProcess.json(serve.get("/v1/videos/" + id)).get("step")).intValue() < 2) {
                assertTrue(System.nanoTime() < deadline, "job never started\n" + serve.output());
                Thread.sleep(50);
            }
            ProcessHandle.of(serve.rankPid(1)).orElseThrow().destroyForcibly(); // SIGKILL

            Map<String, Object> failed = null;
            boolean saw503 = false;
            String lastError = "";
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && (failed == null || !saw503)) {
                try {
                    Map<String, Object> job = ServeProcess.json(serve.get("/v1/videos/" + id));
                    if ("failed".equals(job.get("status"))) {
                        failed = job;
                    }
                    saw503 |= serve.get("/ready").statusCode() == 503;
                } catch (java.io.IOException gone) {
                    lastError = gone.toString();
                    if (!serve.launcher.isAlive()) {
                        break; // the server stopped
                    }
                }
                Thread.sleep(50);
            }
            assertTrue(failed != null, "the job was not reported failed before the server stopped (" + lastError
                    + ")\n" + serve.output());
            Map<?, ?> error = (Map<?, ?>) failed.get("error");
            assertEquals("rank_failed", error.get("code"), failed.toString());
            assertTrue(String.valueOf(error.get("message")).contains("rank 1"), error.toString());
            assertTrue(saw503, "/ready never said 503");
            assertTrue(serve.launcher.waitFor(30, TimeUnit.SECONDS), "the server hung after losing a rank");
            assertNotEquals(0, serve.launcher.exitValue());
            // The queued job ends failed too: rank_failed, or shutting_down when the launcher's SIGTERM came first.
            assertTrue(serve.output().contains(queued + " failed ("), serve.output());
        }
    }
}
