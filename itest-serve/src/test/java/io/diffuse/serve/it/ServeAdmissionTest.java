package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
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
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Admission of a 2-rank demo server as real processes on loopback: a request whose memory estimate
 * exceeds the configured budget, or whose width x height x frames exceeds the pixel bound, is refused
 * with 400 naming the size and the limit and nothing is queued; the limits hold whatever layer set the
 * values (the server's start flags, the admin defaults, the request); the estimate bounds the measured
 * peak of a real job within a small factor; a cancel reaches a job still encoding; and the ranks' memory
 * returns after jobs end.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeAdmissionTest {
    /** Between the demo's small jobs (~0.55 GiB estimated at 384x384x33) and a 1024x1024 one (~1.4 GiB). */
    private static final String BUDGET = "700MiB";
    private static Path dir;
    private static ServeProcess serve;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("serve-admission-");
        // Steps 300 from the start flags, beyond max-steps 200: a request must give its own (or the admin defaults).
        serve = new ServeProcess(dir, Map.of(), "-C", "diffuse.serve.memory-budget=" + BUDGET, "-C",
                "diffuse.generate.num-inference-steps=300", "-C", "diffuse.serve.max-image-pixels=67108864", "-C",
                "diffuse.serve.max-body-bytes=64MiB");
        serve.awaitReady(Duration.ofMinutes(3));
    }

    @AfterAll
    static void stop() throws Exception {
        if (serve != null) {
            serve.close();
        }
    }

    @Test
    @Order(1)
    void aRequestOverTheMemoryBudgetOrThePixelBoundIsRefusedAndNothingIsQueued() throws Exception {
        int listed = listed();
        HttpResponse<String> big = serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "1024x1024", "num_frames", 17,
                "num_inference_steps", 2));
        assertEquals(400, big.statusCode(), big.body());
        Map<?, ?> error = (Map<?, ?>) ServeProcess.json(big).get("error");
        assertEquals("memory_budget_exceeded", error.get("code"), big.body());
        String message = String.valueOf(error.get("message"));
        assertTrue(message.contains("size 1024x1024 with 17 frames") && message.contains("0.68 GiB")
                && message.contains("diffuse.serve.memory-budget"), message);
        System.out.println("refused: " + message);

        // The request: the pixel bound refuses it before any estimate (sync as well).
        HttpResponse<String> huge = serve.postJson("/v1/videos/sync", Map.of("prompt", "a cat", "size", "16384x16384",
                "num_frames", 257, "num_inference_steps", 2));
        assertEquals(400, huge.statusCode(), huge.body());
        Map<?, ?> hugeError = (Map<?, ?>) ServeProcess.json(huge).get("error");
        assertEquals("video_too_large", hugeError.get("code"), huge.body());
        assertTrue(String.valueOf(hugeError.get("message")).contains("16384x16384 with 257 frames")
                && String.valueOf(hugeError.get("message")).contains("diffuse.serve.max-video-pixels"), huge.body());

        assertEquals(listed, listed(), "a refused request left a job");
        assertEquals(0.0, serve.metric("diffuse_queue_depth"));
    }

    @Test
    @Order(2)
    void everyLayerObeysMaxStepsMaxFramesAndTheMemoryBudget() throws Exception {
        Map<String, Object> small = Map.of("prompt", "a dog", "size", "64x64", "num_frames", 5, "seed", 3);
        // The start flags' 300 steps.
        HttpResponse<String> fromFlags = serve.postJson("/v1/videos", small);
        assertEquals(400, fromFlags.statusCode(), fromFlags.body());
        assertTrue(fromFlags.body().contains("num_inference_steps 300") && fromFlags.body().contains("diffuse.serve.max-steps"),
                fromFlags.body());
        // Admin defaults beyond the limits are refused and change nothing.
        for (Map<String, Object> patch : List.<Map<String, Object>>of(Map.of("diffuse.generate.num-inference-steps", 100000),
                Map.of("diffuse.generate.num-inference-steps", 2, "diffuse.generate.num-frames", 100001),
                Map.of("diffuse.generate.num-inference-steps", 2, "diffuse.generate.width", 1024, "diffuse.generate.height", 1024))) {
            HttpResponse<String> r = serve.admin("/admin/defaults", "PATCH", null, patch);
            assertEquals(400, r.statusCode(), patch + " -> " + r.body());
            assertTrue(r.body().contains("diffuse.serve.max-steps") || r.body().contains("diffuse.serve.max-frames")
                    || r.body().contains("diffuse.serve.memory-budget"), r.body());
            assertEquals(Map.of(), ServeProcess.json(serve.admin("/admin/defaults", "GET", null, null)).get("overrides"));
        }
        // Admin defaults within them apply: the same request now runs with 2 steps.
        HttpResponse<String> fix = serve.admin("/admin/defaults", "PATCH", null, Map.of("diffuse.generate.num-inference-steps", 2));
        assertEquals(200, fix.statusCode(), fix.body());
        String id = (String) ServeProcess.json(serve.postJson("/v1/videos", small)).get("id");
        Map<String, Object> done = serve.awaitEnd(id, Duration.ofMinutes(2));
        assertEquals("completed", done.get("status"), done + serve.output());
        assertEquals(2, done.get("steps"), done.toString());
        // Clearing them would bring back the start flags' 300 steps: refused too.
        HttpResponse<String> clear = serve.admin("/admin/defaults", "DELETE", null, null);
        assertEquals(400, clear.statusCode(), clear.body());
        assertTrue(clear.body().contains("diffuse.serve.max-steps"), clear.body());
    }

    /**
     * The tolerance: the estimate must be at least the measured peak (rank 0's peak RSS during the job
     * above its RSS before it: the kernel's high-water mark, reset at each stage) and at most 3 times it.
     * The estimate counts every copy of the video the pipeline can hold at once plus a fixed allowance
     * for the allocator and kernel workspaces, which the run does not all use at the same moment.
     */
    @Test
    @Order(3)
    void theEstimateBoundsTheMeasuredPeakOfARealJob() throws Exception {
        long[] before = rss();
        String id = (String) ServeProcess.json(serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "384x384",
                "num_frames", 33, "num_inference_steps", 2))).get("id");
        Map<String, Object> done = serve.awaitEnd(id, Duration.ofMinutes(3));
        assertEquals("completed", done.get("status"), done + serve.output());
        Map<?, ?> memory = (Map<?, ?>) done.get("memory");
        long estimate = ((Number) memory.get("estimate_bytes")).longValue();
        long peak = ((Number) memory.get("peak_bytes")).longValue();
        System.out.printf("384x384x33: estimate %.1f MiB, measured peak %.1f MiB (ratio %.2f), budget %s%n", estimate / 1048576.0,
                peak / 1048576.0, estimate / (double) peak, memory.get("budget_bytes"));
        assertTrue(peak > 0 && peak <= estimate, "the measured peak exceeds the estimate: " + memory);
        assertTrue(estimate <= 3 * peak, "the estimate is more than 3x the measured peak: " + memory);
        // What the job took is given back (within 25 % of its peak) once it ended.
        Thread.sleep(1000);
        assertGivenBack(before, peak, "after a completed job");
    }

    @Test
    @Order(4)
    void aCancelDuringTheEncodeStopsTheJobBeforeDenoisingAndGivesItsMemoryBack() throws Exception {
        long[] before = rss();
        // Image-to-video from a 6000x6000 image: rank 0 decodes and resizes it in the encode stage, for seconds.
        BufferedImage image = new BufferedImage(6000, 6000, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 6000; y++) {
            for (int x = 0; x < 6000; x++) {
                image.setRGB(x, y, (x / 24) << 16 | (y / 24) << 8 | 64);
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        javax.imageio.ImageIO.write(image, "png", png);
        HttpResponse<String> posted = serve.postMultipart("/v1/videos", Map.of("prompt", "a cat", "num_frames", "5",
                "num_inference_steps", "50", "input_reference", png.toByteArray()));
        assertEquals(200, posted.statusCode(), posted.body());
        String id = (String) ServeProcess.json(posted).get("id");
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!"in_progress".equals(ServeProcess.json(serve.get("/v1/videos/" + id)).get("status"))) {
            assertTrue(System.nanoTime() < deadline, "the job never started\n" + serve.output());
            Thread.sleep(10);
        }
        Thread.sleep(500); // into the encode stage (seconds long: reading and resizing the image)
        assertEquals(200, serve.delete("/v1/videos/" + id).statusCode());
        Map<String, Object> ended = serve.awaitEnd(id, Duration.ofMinutes(2));
        assertEquals("failed", ended.get("status"), ended.toString());
        Map<?, ?> error = (Map<?, ?>) ended.get("error");
        assertEquals("cancelled", error.get("code"), ended.toString());
        String where = String.valueOf(error.get("message"));
        assertTrue(where.contains("after the encode stage"), where);
        assertEquals(0, ended.get("step"), "a denoising step ran after the cancel: " + ended);
        System.out.println("cancelled: " + where);
        Thread.sleep(1000);
        assertGivenBack(before, 256L << 20, "after a job cancelled while encoding");
    }

    private static void assertGivenBack(long[] before, long took, String when) throws Exception {
        long[] after = rss();
        for (int r = 0; r < after.length; r++) {
            long kept = after[r] - before[r];
            System.out.printf("rank %d %s: RSS %.1f -> %.1f MiB%n", r, when, before[r] / 1048576.0, after[r] / 1048576.0);
            assertTrue(kept <= took / 4, "rank " + r + " kept " + kept / 1048576 + " MiB " + when + " (of "
                    + took / 1048576 + " MiB)");
        }
    }

    /** Every rank's resident memory now (VmRSS of its process). */
    private static long[] rss() throws Exception {
        long[] bytes = new long[2];
        for (int r = 0; r < 2; r++) {
            for (String line : Files.readAllLines(Path.of("/proc/" + serve.rankPid(r) + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    bytes[r] = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        }
        return bytes;
    }

    private static int listed() throws Exception {
        return ((List<?>) ServeProcess.json(serve.get("/v1/videos?limit=100")).get("data")).size();
    }
}
