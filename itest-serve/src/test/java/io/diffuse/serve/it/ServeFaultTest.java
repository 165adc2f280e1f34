package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults of a 2-rank server as real processes: a request whose memory cannot be allocated fails
 * alone; a rank killed (SIGKILL) during a job fails that job naming the rank and turns /ready to
 * 503; then the launcher restarts the ranks, the job that was queued runs, and new jobs complete (or,
 * with restarts off, the server exits non-zero and the queued job fails with the reason). That last
 * server has an API key, which without an admin key also guards /admin/defaults, whose overrides beat
 * the server's start flags.
 */
class ServeFaultTest {
    private static final Map<String, Object> LONG_JOB = Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5,
            "num_inference_steps", 200, "seed", 1);
    private static final Map<String, Object> SHORT_JOB = Map.of("prompt", "a dog", "size", "64x64", "num_frames", 5,
            "num_inference_steps", 2, "seed", 2);

    @TempDir
    Path tmp;

    @Test
    void aFailedAllocationFailsOnlyItsJobAndAKilledRankIsRestartedWithTheQueuedJobRunAfterwards() throws Exception {
        int port = ServeProcess.freePort(); // fixed: the restarted rank 0 listens where clients know it
        try (ServeProcess serve = new ServeProcess(port, tmp, Map.of(), "-C", "diffuse.serve.max-frames=2000000001",
                // admission off, so that the allocation itself fails
                "-C", "diffuse.serve.memory-budget=0", "-C", "diffuse.serve.max-video-pixels=0")) {
            serve.awaitReady(Duration.ofMinutes(3));

            // 1. 2,000,000,001 frames of 64x64: the initial noise alone would be 128 GB, which the allocator
            // refuses on every rank at once. The job fails with that reason; the ranks go on.
            String huge = (String) ServeProcess.json(serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "64x64",
                    "num_frames", 2_000_000_001, "num_inference_steps", 2))).get("id");
            Map<String, Object> oom = serve.awaitEnd(huge, Duration.ofMinutes(1));
            assertEquals("failed", oom.get("status"), oom.toString());
            Map<?, ?> oomError = (Map<?, ?>) oom.get("error");
            assertEquals("out_of_memory", oomError.get("code"), oom.toString());
            assertTrue(String.valueOf(oomError.get("message")).contains("can't allocate memory"), oomError.toString());
            String next = (String) ServeProcess.json(serve.postJson("/v1/videos", SHORT_JOB)).get("id");
            assertEquals("completed", serve.awaitEnd(next, Duration.ofMinutes(1)).get("status"), serve.output());
            assertEquals(200, serve.get("/ready").statusCode());
            long rank1Before = serve.rankPid(1);

            // 2. SIGKILL of rank 1 during a job, with another job queued behind it.
            String running = (String) ServeProcess.json(serve.postJson("/v1/videos", LONG_JOB)).get("id");
            String queued = (String) ServeProcess.json(serve.postJson("/v1/videos", SHORT_JOB)).get("id");
            awaitStep(serve, running, 2);
            long killedAt = System.nanoTime();
            ProcessHandle.of(rank1Before).orElseThrow().destroyForcibly();

            Map<String, Object> failed = null;
            boolean saw503 = false;
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline && (failed == null || !saw503)) {
                try {
                    Map<String, Object> job = ServeProcess.json(serve.get("/v1/videos/" + running));
                    if ("failed".equals(job.get("status"))) {
                        failed = job;
                    }
                    saw503 |= serve.get("/ready").statusCode() == 503;
                } catch (java.io.IOException restarting) {
                    // between the old rank 0 and the new one nothing listens
                }
                Thread.sleep(50);
            }
            assertTrue(failed != null, "the job was not reported failed\n" + serve.output());
            Map<?, ?> error = (Map<?, ?>) failed.get("error");
            assertEquals("rank_failed", error.get("code"), failed.toString());
            assertTrue(String.valueOf(error.get("message")).contains("rank 1"), error.toString());
            assertTrue(saw503, "/ready never said 503");

            // 3. The launcher restarts the ranks; the same port serves again.
            serve.awaitReady(Duration.ofMinutes(3), 2);
            System.out.printf("restart: ready again %.1f s after the SIGKILL of rank 1%n", (System.nanoTime() - killedAt) / 1e9);
            assertTrue(serve.output().contains("restarting the ranks (restart 1 of 3)"), serve.output());
            assertNotEquals(rank1Before, serve.rankPid(1), "rank 1 was not started again");
            assertEquals(200, serve.get("/ready").statusCode(), serve.output());
            // The failed job is still there to read, with its reason; the queued one ran after the restart.
            assertEquals(error, ServeProcess.json(serve.get("/v1/videos/" + running)).get("error"));
            Map<String, Object> afterRestart = serve.awaitEnd(queued, Duration.ofMinutes(1));
            assertEquals("completed", afterRestart.get("status"), afterRestart + "\n" + serve.output());
            String later = (String) ServeProcess.json(serve.postJson("/v1/videos", SHORT_JOB)).get("id");
            assertEquals("completed", serve.awaitEnd(later, Duration.ofMinutes(1)).get("status"), serve.output());
            HttpResponse<byte[]> mp4 = serve.getBytes("/v1/videos/" + later + "/content");
            assertEquals(200, mp4.statusCode());
            assertArrayEquals("ftyp".getBytes(), java.util.Arrays.copyOfRange(mp4.body(), 4, 8), "not an MP4");
            // The same seed after the restart gives the same video as before it.
            assertArrayEquals(Files.readAllBytes(tmp.resolve(next + ".mp4")), mp4.body(),
                    "the restarted ranks produced a different video for the same request");
            assertTrue(serve.launcher.isAlive());
        }
    }

    @Test
    void aKilledRankZeroLosesNoJobTheRunningOneFailsWithTheReasonAndTheQueuedOneRuns() throws Exception {
        int port = ServeProcess.freePort();
        try (ServeProcess serve = new ServeProcess(port, tmp, Map.of())) {
            serve.awaitReady(Duration.ofMinutes(3));
            String running = (String) ServeProcess.json(serve.postJson("/v1/videos", LONG_JOB)).get("id");
            String queued = (String) ServeProcess.json(serve.postJson("/v1/videos", SHORT_JOB)).get("id");
            awaitStep(serve, running, 2);
            // Rank 0 holds the HTTP server and the scheduler: nothing of it survives but the jobs on disk.
            ProcessHandle.of(serve.rankPid(0)).orElseThrow().destroyForcibly();
            serve.awaitReady(Duration.ofMinutes(3), 2);
            Map<String, Object> failed = ServeProcess.json(serve.get("/v1/videos/" + running));
            assertEquals("failed", failed.get("status"), failed + "\n" + serve.output());
            Map<?, ?> error = (Map<?, ?>) failed.get("error");
            assertEquals("rank_failed", error.get("code"), failed.toString());
            assertTrue(String.valueOf(error.get("message")).contains("the server went down while this job ran"), error.toString());
            assertEquals("completed", serve.awaitEnd(queued, Duration.ofMinutes(1)).get("status"), serve.output());
            assertEquals(200, serve.getBytes("/v1/videos/" + queued + "/content").statusCode());
        }
    }

    @Test
    void aRankThatHangsIsNamedWhenTheCollectiveTimesOutAndTheRanksAreRestarted() throws Exception {
        int port = ServeProcess.freePort();
        try (ServeProcess serve = new ServeProcess(port, tmp, Map.of(), "-C", "diffuse.dist.timeout=10s")) {
            serve.awaitReady(Duration.ofMinutes(3));
            String running = (String) ServeProcess.json(serve.postJson("/v1/videos", LONG_JOB)).get("id");
            awaitStep(serve, running, 2);
            long hung = serve.rankPid(1);
            long stoppedAt = System.nanoTime();
            new ProcessBuilder("kill", "-STOP", Long.toString(hung)).start().waitFor();
            Map<String, Object> failed = serve.awaitEnd(running, Duration.ofMinutes(1));
            double noticed = (System.nanoTime() - stoppedAt) / 1e9;
            Map<?, ?> error = (Map<?, ?>) failed.get("error");
            assertEquals("rank_failed", error.get("code"), failed.toString());
            assertTrue(String.valueOf(error.get("message")).contains("rank 1 (pid " + hung + ", stopped"), error.toString());
            assertTrue(noticed < 40, "noticed after " + noticed + " s with a 10 s collective timeout");
            serve.awaitReady(Duration.ofMinutes(3), 2);
            System.out.printf("hang: job failed %.1f s after SIGSTOP of rank 1 (timeout 10 s); ready again after %.1f s%n",
                    noticed, (System.nanoTime() - stoppedAt) / 1e9);
            assertTrue(ProcessHandle.of(hung).map(h -> !h.isAlive()).orElse(true), "the hung rank was not stopped");
            String later = (String) ServeProcess.json(serve.postJson("/v1/videos", SHORT_JOB)).get("id");
            assertEquals("completed", serve.awaitEnd(later, Duration.ofMinutes(1)).get("status"), serve.output());
        }
    }

    @Test
    void withRestartsOffAKilledRankFailsTheJobAndTheQueuedOneAndTheServerExitsNonZero() throws Exception {
        try (ServeProcess serve = new ServeProcess(tmp, Map.of("DIFFUSE_SERVE_API__KEY", "s3cret"), "-C",
                "diffuse.serve.max-restarts=0", "--nproc", "2", "--strategy", "ulysses")) {
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

            String id = (String) ServeProcess.json(serve.postJson("/v1/videos", LONG_JOB)).get("id");
            String queued = (String) ServeProcess.json(serve.postJson("/v1/videos", SHORT_JOB)).get("id");
            awaitStep(serve, id, 2);
            ProcessHandle.of(serve.rankPid(1)).orElseThrow().destroyForcibly(); // SIGKILL

            Map<String, Object> failed = null;
            Map<String, Object> queuedFailed = null;
            boolean saw503 = false;
            String lastError = "";
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && (failed == null || queuedFailed == null || !saw503)) {
                try {
                    Map<String, Object> job = ServeProcess.json(serve.get("/v1/videos/" + id));
                    if ("failed".equals(job.get("status"))) {
                        failed = job;
                    }
                    Map<String, Object> q = ServeProcess.json(serve.get("/v1/videos/" + queued));
                    if ("failed".equals(q.get("status"))) {
                        queuedFailed = q;
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
            assertTrue(queuedFailed != null, "the queued job was not failed\n" + serve.output());
            assertEquals("rank_failed", ((Map<?, ?>) queuedFailed.get("error")).get("code"), queuedFailed.toString());
            assertTrue(serve.launcher.waitFor(30, TimeUnit.SECONDS), "the server hung after losing a rank");
            assertNotEquals(0, serve.launcher.exitValue());
            assertTrue(!serve.output().contains("restarting the ranks"), serve.output());
        }
    }

    private static void awaitStep(ServeProcess serve, String id, int step) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (((Number) ServeProcess.json(serve.get("/v1/videos/" + id)).get("step")).intValue() < step) {
            assertTrue(System.nanoTime() < deadline, "job never started\n" + serve.output());
            Thread.sleep(50);
        }
    }
}
