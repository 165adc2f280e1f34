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
 * the server's start flags. SIGTERM drains: a fresh server's first job finishes; while draining, an upload
 * under way is refused, a second SIGTERM changes nothing and drain-timeout stops a longer job.
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

    /**
     * SIGTERM to the launcher of a fresh server while its first job runs: the drain finishes that job, the
     * client waiting on {@code /v1/videos/sync} gets its MP4, and every process exits 0. The first job is
     * where the classes of a job's end (writing the outputs) are first used, here while every JVM is
     * already stopping; a class that registered a shutdown hook on first use failed the job then (issue 19).
     */
    @Test
    void sigtermDuringTheFirstJobOfAFreshServerFinishesItAndExitsZero() throws Exception {
        try (ServeProcess serve = new ServeProcess(tmp, Map.of())) {
            serve.awaitReady(Duration.ofMinutes(3));
            long[] ranks = {serve.rankPid(0), serve.rankPid(1)};
            java.util.concurrent.CompletableFuture<HttpResponse<byte[]>> sync = serve.http.sendAsync(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(serve.base + "/v1/videos/sync"))
                            .timeout(Duration.ofMinutes(3)).header("Content-Type", "application/json")
                            .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(ServeProcess.JSON.writeValueAsBytes(
                                    Map.of("prompt", "a cat", "size", "64x64", "num_frames", 5, "num_inference_steps", 40,
                                            "seed", 3)))).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            String id = awaitRunningJob(serve);
            serve.launcher.toHandle().destroy(); // SIGTERM, as a supervisor sends it

            HttpResponse<byte[]> video = sync.get(3, TimeUnit.MINUTES);
            assertEquals(200, video.statusCode(), new String(video.body(), java.nio.charset.StandardCharsets.UTF_8)
                    + "\n" + serve.output());
            assertEquals(id, video.headers().firstValue("x-video-id").orElse(null));
            assertArrayEquals("ftyp".getBytes(), java.util.Arrays.copyOfRange(video.body(), 4, 8), "not an MP4");
            assertTrue(serve.launcher.waitFor(2, TimeUnit.MINUTES), "the server did not stop\n" + serve.output());
            assertEquals(0, serve.launcher.exitValue(), serve.output());
            assertTrue(serve.output().contains(id + " completed"), serve.output());
            assertArrayEquals(Files.readAllBytes(tmp.resolve(id + ".mp4")), video.body(), "the kept video is another");
            assertTrue(Files.readString(tmp.resolve("jobs").resolve(id + ".json")).contains("\"status\":\"completed\""));
            for (long pid : ranks) {
                assertTrue(ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true), "rank pid " + pid + " is still running");
            }
        }
    }

    /**
     * While a server drains: a request whose upload was under way at the SIGTERM is refused with 503 (not
     * admitted into the drained queue, nor failed by reading its image: ImageIO's stream cache, first used
     * then, adds a shutdown hook); a second SIGTERM, to the launcher and to each rank (as a process group or
     * Kubernetes sends it), changes nothing; a job longer than {@code drain-timeout} is stopped between
     * denoising steps on every rank and fails {@code shutting_down}; every process exits 0.
     */
    @Test
    void whileDrainingAnUploadIsRefusedASecondSigtermChangesNothingAndTheDeadlineStopsTheJob() throws Exception {
        try (ServeProcess serve = new ServeProcess(tmp, Map.of(), "-C", "diffuse.serve.drain-timeout=5s")) {
            serve.awaitReady(Duration.ofMinutes(3));
            long[] ranks = {serve.rankPid(0), serve.rankPid(1)};
            // Far longer than 5 s on any CPU (minutes here), so only the deadline ends it in time.
            String id = (String) ServeProcess.json(serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "128x128",
                    "num_frames", 17, "num_inference_steps", 200, "seed", 1))).get("id");
            awaitStep(serve, id, 2);
            java.net.URI base = java.net.URI.create(serve.base);
            try (java.net.Socket upload = new java.net.Socket(base.getHost(), base.getPort())) {
                upload.setSoTimeout(60_000);
                byte[] body = imageToVideoBody("----drain");
                upload.getOutputStream().write(("POST /v1/videos HTTP/1.1\r\nHost: " + base.getAuthority() + "\r\n"
                        + "Content-Type: multipart/form-data; boundary=----drain\r\nContent-Length: " + body.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                upload.getOutputStream().write(body, 0, body.length - 64);
                upload.getOutputStream().flush();
                Thread.sleep(1000); // the server took the request before the SIGTERM and reads its body

                serve.launcher.toHandle().destroy(); // SIGTERM
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (serve.get("/ready").statusCode() != 503) {
                    assertTrue(System.nanoTime() < deadline, "not draining\n" + serve.output());
                    Thread.sleep(20);
                }
                serve.launcher.toHandle().destroy(); // and again, now also to every rank
                for (long pid : ranks) {
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
                }

                upload.getOutputStream().write(body, body.length - 64, 64);
                upload.getOutputStream().flush();
                String answer = new String(upload.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(answer.startsWith("HTTP/1.1 503"), answer + "\n" + serve.output());
                assertTrue(answer.contains("draining"), answer);
            }
            assertTrue(serve.launcher.waitFor(2, TimeUnit.MINUTES), "the server did not stop\n" + serve.output());
            assertEquals(0, serve.launcher.exitValue(), serve.output());
            Map<?, ?> job = ServeProcess.JSON.readValue(tmp.resolve("jobs").resolve(id + ".json").toFile(), Map.class);
            assertEquals("failed", job.get("status"), job + "\n" + serve.output());
            Map<?, ?> error = (Map<?, ?>) job.get("error");
            assertEquals("shutting_down", error.get("code"), job.toString());
            assertTrue(String.valueOf(error.get("message")).matches(".*every rank stopped \\(interrupted after denoise step \\d+"
                    + " of 200\\).*"), error.toString());
            try (java.util.stream.Stream<Path> files = Files.list(tmp.resolve("jobs"))) {
                assertEquals(1, files.count(), "only the drained job has a record");
            }
            for (long pid : ranks) {
                assertTrue(ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true), "rank pid " + pid + " is still running");
            }
        }
    }

    /** multipart/form-data of a small image-to-video request with a 64x64 PNG as input_reference. */
    private static byte[] imageToVideoBody(String boundary) throws java.io.IOException {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(64, 64, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(image, "png", png);
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        for (Map.Entry<String, String> f : Map.of("prompt", "a dog", "size", "64x64", "num_frames", "5",
                "num_inference_steps", "2").entrySet()) {
            body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.getKey() + "\"\r\n\r\n"
                    + f.getValue() + "\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"first.png\"\r\n"
                + "Content-Type: image/png\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        body.write(png.toByteArray());
        body.write(("\r\n--" + boundary + "--\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return body.toByteArray();
    }

    /** The id of the job running on the server, once it has done a denoising step. */
    private static String awaitRunningJob(ServeProcess serve) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            for (Object o : (java.util.List<?>) ServeProcess.json(serve.get("/v1/videos")).get("data")) {
                Map<?, ?> job = (Map<?, ?>) o;
                if ("in_progress".equals(job.get("status")) && job.get("step") instanceof Number n && n.intValue() >= 1) {
                    return (String) job.get("id");
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no job started\n" + serve.output());
    }

    private static void awaitStep(ServeProcess serve, String id, int step) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (((Number) ServeProcess.json(serve.get("/v1/videos/" + id)).get("step")).intValue() < step) {
            assertTrue(System.nanoTime() < deadline, "job never started\n" + serve.output());
            Thread.sleep(50);
        }
    }
}
