package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The output folder as storage, on a real 2-rank server whose output folder is its own small tmpfs
 * (64 MiB), so that a full and a read-only file system are real ones: {@code dd} fills it, {@code mount
 * -o remount,ro} makes it read-only (root ignores permissions, so chmod would not). Refused uploads
 * leave no file, leftovers are swept at start, a full or read-only folder is a 5xx and {@code /ready}
 * says so, a DELETE that cannot delete says so and keeps the job, HEAD works, {@code /content} serves
 * only the file the server wrote, and the disk budget counts everything under the folder. Needs root
 * (to mount a tmpfs); skipped otherwise.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeStorageTest {
    private static final Map<String, Object> SMALL = Map.of("prompt", "a cat walks on the grass", "size", "64x64",
            "num_frames", 5, "num_inference_steps", 2, "seed", 7);
    private static final long BUDGET = 16L << 20;
    /** Leftovers of an earlier server planted before the start: an upload no job owns, staging and temporary files. */
    private static final List<String> PLANTED = List.of("video_" + "ab".repeat(16) + "-input.png",
            ".video_" + "cd".repeat(16) + "-input.png.upload", ".admin-defaults.json.tmp",
            "jobs/.video_" + "ef".repeat(16) + ".json.tmp");

    private Path root;
    private Path out;
    private boolean mounted;
    private ServeProcess serve;
    private String deletedId;

    @BeforeAll
    void start() throws Exception {
        root = Files.createTempDirectory("serve-storage-test");
        out = root.resolve("out");
        Files.createDirectories(out);
        String mount = sh("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", out.toString());
        mounted = mount.isEmpty();
        assumeTrue(mounted, "needs root to mount a tmpfs as the output folder: " + mount);
        Files.createDirectories(out.resolve("jobs"));
        for (String name : PLANTED) {
            Files.write(out.resolve(name), name.endsWith(".png") ? png(32, 32, false) : new byte[0]);
        }
        serve = startServer();
    }

    private ServeProcess startServer() throws Exception {
        return new ServeProcess(out, Map.of(), "-C", "diffuse.serve.max-image-pixels=4096", "-C",
                "diffuse.serve.disk-budget=" + BUDGET).awaitReady(Duration.ofMinutes(3));
    }

    @AfterAll
    void stop() throws Exception {
        if (serve != null) {
            serve.close();
        }
        if (mounted) {
            sh("mount", "-o", "remount,rw", out.toString());
            if (!sh("umount", out.toString()).isEmpty()) {
                sh("umount", "-l", out.toString());
            }
        }
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    @Order(1)
    void leftoversOfAStoppedServerAreSweptAtStart() {
        for (String name : PLANTED) {
            assertFalse(Files.exists(out.resolve(name)), name + " is still there after the start\n" + serve.output());
        }
    }

    @Test
    @Order(2)
    void everyRefusedUploadLeavesNoFileAndAnAdmittedOneBelongsToItsJob() throws Exception {
        byte[] ok = png(16, 16, false);
        byte[] corrupt = java.util.Arrays.copyOf(ok, ok.length / 2);
        byte[] webp = "RIFF\u0024\u0000\u0000\u0000WEBPVP8 \u0018\u0000\u0000\u0000".getBytes(StandardCharsets.ISO_8859_1);
        Object[][] cases = {
            {"0 bytes", List.of(file("image.png", new byte[0]))},
            {"corrupt", List.of(file("image.png", corrupt))},
            {"text", List.of(file("notes.txt", "not an image".getBytes(StandardCharsets.UTF_8)))},
            {"WebP", List.of(file("image.webp", webp))},
            {"over the pixel limit", List.of(file("image.png", png(100, 100, false)))},
            {"a second part", List.of(file("a.png", ok), file("b.png", ok))},
            {"a good image with a bad field", List.of(file("image.png", ok), text("size", "big"))},
            {"a good image with a field sent twice", List.of(file("image.png", ok), text("prompt", "a cat"))},
        };
        for (Object[] c : cases) {
            List<Part> parts = new ArrayList<>(List.of(text("prompt", "a dog"), text("num_frames", "5")));
            @SuppressWarnings("unchecked")
            List<Part> more = (List<Part>) c[1];
            parts.addAll(more);
            HttpResponse<String> r = multipart(parts);
            assertEquals(400, r.statusCode(), c[0] + ": " + r.body());
            assertEquals("invalid_request_error", error(r).get("type"), c[0] + ": " + r.body());
            assertFalse(r.body().contains(out.toString()), c[0] + ": the answer names a server path: " + r.body());
            assertEquals(List.of(), files(), c[0] + ": the refused upload left files");
        }
        HttpResponse<String> created = multipart(List.of(text("prompt", "a dog"), text("size", "64x64"), text("num_frames", "5"),
                text("num_inference_steps", "2"), file("image.png", ok)));
        assertEquals(200, created.statusCode(), created.body());
        String id = (String) ServeProcess.json(created).get("id");
        assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"), serve.output());
        assertArrayEquals(ok, Files.readAllBytes(out.resolve(id + "-input.png")), "the job's input is the upload");
        assertEquals(List.of("jobs/" + id + ".json", id + "-input.png", id + ".mp4"), files());
    }

    @Test
    @Order(3)
    void aFullOutputFolderRefusesNewJobsWith507LeavesNoFileAndReadySaysSo() throws Exception {
        List<String> before = files();
        Path spacer = out.resolve("spacer");
        Files.write(spacer, new byte[64 << 10]);
        Path filler = fill(out.resolve("filler"));
        try {
            HttpResponse<String> json = serve.postJson("/v1/videos", SMALL);
            assertStorageFault(507, "storage_full", "No space left on device", json);
            HttpResponse<String> upload = multipart(List.of(text("prompt", "a dog"), file("image.png", png(16, 16, false))));
            assertStorageFault(507, "storage_full", "No space left on device", upload);
            HttpResponse<String> admin = serve.admin("/admin/defaults", "PATCH", null, Map.of(
                    "diffuse.generate.num-inference-steps", 3));
            assertStorageFault(507, "storage_full", "No space left on device", admin);
            HttpResponse<String> ready = serve.get("/ready");
            assertEquals(503, ready.statusCode(), ready.body());
            assertEquals("storage_full", ServeProcess.json(ready).get("status"), ready.body());
            assertTrue(String.valueOf(ServeProcess.json(ready).get("error")).contains("No space left on device"), ready.body());
            String listed = ServeProcess.json(serve.get("/v1/videos?limit=100")).get("data").toString();
            assertFalse(listed.contains("a cat walks"), "a refused job is listed: " + listed);

            // 64 KiB free: a new job's record would fit, a large upload does not; it is refused while staged.
            Files.delete(spacer);
            HttpResponse<String> large = multipart(List.of(text("prompt", "a dog"), file("image.png", png(320, 320, true))));
            assertStorageFault(507, "storage_full", "No space left on device", large);
        } finally {
            Files.deleteIfExists(spacer);
            Files.delete(filler);
        }
        assertEquals(before, files(), "a refused request left files");
        assertEquals(200, serve.get("/ready").statusCode());
        HttpResponse<String> admin = serve.admin("/admin/defaults", "GET", null, null);
        assertEquals(Map.of(), ServeProcess.json(admin).get("overrides"), admin.body());
    }

    @Test
    @Order(4)
    void onAReadOnlyOutputFolderDeleteIs500AndTheJobStaysAndNewJobsAre503() throws Exception {
        String id = completed(SMALL);
        assertEquals("", sh("mount", "-o", "remount,ro", out.toString()));
        try {
            HttpResponse<String> delete = serve.delete("/v1/videos/" + id);
            assertEquals(500, delete.statusCode(), delete.body());
            assertEquals("not_deleted", error(delete).get("code"), delete.body());
            assertTrue(String.valueOf(error(delete).get("message")).contains("Read-only file system"), delete.body());
            assertFalse(delete.body().contains(out.toString()), "names the server's path: " + delete.body());
            assertEquals("completed", ServeProcess.json(serve.get("/v1/videos/" + id)).get("status"));
            assertEquals(200, serve.getBytes("/v1/videos/" + id + "/content").statusCode());
            assertStorageFault(503, "storage_unavailable", "Read-only file system", serve.postJson("/v1/videos", SMALL));
            HttpResponse<String> ready = serve.get("/ready");
            assertEquals(503, ready.statusCode(), ready.body());
            assertEquals("storage_unavailable", ServeProcess.json(ready).get("status"), ready.body());
        } finally {
            assertEquals("", sh("mount", "-o", "remount,rw", out.toString()));
        }
        assertEquals(200, serve.get("/ready").statusCode());
        HttpResponse<String> delete = serve.delete("/v1/videos/" + id);
        assertEquals(200, delete.statusCode(), delete.body());
        assertEquals(true, ServeProcess.json(delete).get("deleted"));
        assertEquals(404, serve.get("/v1/videos/" + id).statusCode());
        assertFalse(files().stream().anyMatch(f -> f.contains(id)), files().toString());
        deletedId = id;
    }

    @Test
    @Order(5)
    void headOnAJobAndItsContentAnswersAsGetWithoutABody() throws Exception {
        String id = completed(SMALL);
        HttpResponse<byte[]> job = head("/v1/videos/" + id);
        assertEquals(200, job.statusCode());
        assertEquals("application/json", job.headers().firstValue("content-type").orElse(""));
        assertEquals(0, job.body().length);
        HttpResponse<byte[]> content = head("/v1/videos/" + id + "/content");
        assertEquals(200, content.statusCode());
        assertEquals("video/mp4", content.headers().firstValue("content-type").orElse(""));
        assertEquals(Files.size(out.resolve(id + ".mp4")), content.headers().firstValueAsLong("content-length").orElse(-1));
        assertEquals(0, content.body().length);
        assertEquals(404, head("/v1/videos/video_" + "0".repeat(32)).statusCode());
    }

    @Test
    @Order(6)
    void contentServesOnlyTheFileTheServerWroteAndNamesNoServerPath() throws Exception {
        String id = completed(SMALL);
        Path secret = root.resolve("secret.txt");
        Files.writeString(secret, "TOP SECRET");
        Path mp4 = out.resolve(id + ".mp4");
        Files.delete(mp4);
        Files.createSymbolicLink(mp4, secret);
        HttpResponse<String> linked = serve.get("/v1/videos/" + id + "/content");
        assertEquals(404, linked.statusCode(), linked.body());
        assertFalse(linked.body().contains("TOP SECRET"), linked.body());
        assertFalse(linked.body().contains(root.toString()), linked.body());
        Files.delete(mp4);
        HttpResponse<String> gone = serve.get("/v1/videos/" + id + "/content");
        assertEquals(404, gone.statusCode(), gone.body());
        assertTrue(gone.body().contains("gone"), gone.body());
        assertFalse(gone.body().contains(root.toString()), "names the server's path: " + gone.body());
    }

    @Test
    @Order(7)
    void theDiskBudgetCountsEveryFileUnderTheOutputFolder() throws Exception {
        Path other = out.resolve("notes").resolve("other.bin");
        Files.createDirectories(other.getParent());
        Files.write(other, new byte[(int) BUDGET + (1 << 20)]);
        try {
            HttpResponse<String> r = serve.postJson("/v1/videos", SMALL);
            assertEquals(200, r.statusCode(), r.body());
            String id = (String) ServeProcess.json(r).get("id");
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (serve.get("/v1/videos/" + id).statusCode() != 404 || !serve.output().contains(id + " deleted")) {
                assertTrue(System.nanoTime() < deadline, "the job was not deleted though the folder is over the budget\n"
                        + serve.output());
                Thread.sleep(200);
            }
            assertTrue(serve.output().contains(id + " completed"), serve.output());
            assertTrue(serve.output().contains(id + " deleted: the output folder is over diffuse.serve.disk-budget"),
                    serve.output());
            assertFalse(files().stream().anyMatch(f -> f.contains(id)), files().toString());
        } finally {
            Files.delete(other);
        }
    }

    @Test
    @Order(8)
    void aNewServerOnTheFolderKeepsWhatJobsOwnAndSweepsTheRest() throws Exception {
        HttpResponse<String> created = multipart(List.of(text("prompt", "a dog"), text("size", "64x64"), text("num_frames", "5"),
                text("num_inference_steps", "2"), file("image.png", png(16, 16, false))));
        String id = (String) ServeProcess.json(created).get("id");
        assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"), serve.output());
        serve.launcher.toHandle().destroy(); // SIGTERM: drains and exits
        assertTrue(serve.launcher.waitFor(2, TimeUnit.MINUTES), serve.output());
        String orphan = "video_" + "12".repeat(16) + "-input.png";
        Files.write(out.resolve(orphan), png(16, 16, false));
        serve = startServer();
        assertEquals("completed", ServeProcess.json(serve.get("/v1/videos/" + id)).get("status"));
        assertEquals(200, serve.getBytes("/v1/videos/" + id + "/content").statusCode());
        assertTrue(Files.exists(out.resolve(id + "-input.png")), "the job's own input was swept");
        assertFalse(Files.exists(out.resolve(orphan)), "an upload no job owns survived the start");
        if (deletedId != null) {
            assertEquals(404, serve.get("/v1/videos/" + deletedId).statusCode(), "a deleted job came back");
        }
    }

    // ------------------------------------------------------------------ helpers

    private void assertStorageFault(int status, String code, String reason, HttpResponse<String> r) throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        Map<?, ?> e = error(r);
        assertEquals("server_error", e.get("type"), r.body());
        assertEquals(code, e.get("code"), r.body());
        assertTrue(String.valueOf(e.get("message")).contains(reason), r.body());
        assertFalse(r.body().contains(out.toString()), "names the server's path: " + r.body());
    }

    private static Map<?, ?> error(HttpResponse<String> r) throws IOException {
        return (Map<?, ?>) ServeProcess.json(r).get("error");
    }

    private String completed(Map<String, Object> request) throws Exception {
        HttpResponse<String> r = serve.postJson("/v1/videos", request);
        assertEquals(200, r.statusCode(), r.body());
        String id = (String) ServeProcess.json(r).get("id");
        assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"), serve.output());
        return id;
    }

    /** Every file under the output folder (relative names, sorted), admin defaults aside. */
    private List<String> files() throws IOException {
        try (Stream<Path> walk = Files.walk(out)) {
            return walk.filter(p -> !Files.isDirectory(p)).map(p -> out.relativize(p).toString())
                    .collect(Collectors.toCollection(TreeSet::new)).stream().toList();
        }
    }

    /** Writes {@code file} until the file system is full. */
    private static Path fill(Path file) throws IOException {
        byte[] chunk = new byte[1 << 20];
        try (OutputStream o = Files.newOutputStream(file)) {
            while (true) {
                o.write(chunk);
            }
        } catch (IOException full) {
            assertTrue(String.valueOf(full.getMessage()).contains("No space left"), full.toString());
        }
        return file;
    }

    private HttpResponse<byte[]> head(String path) throws IOException, InterruptedException {
        return serve.http.send(HttpRequest.newBuilder(URI.create(serve.base + path)).timeout(Duration.ofSeconds(60))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private record Part(String name, String filename, byte[] content) {
    }

    private static Part text(String name, String value) {
        return new Part(name, null, value.getBytes(StandardCharsets.UTF_8));
    }

    private static Part file(String filename, byte[] content) {
        return new Part("input_reference", filename, content);
    }

    private HttpResponse<String> multipart(List<Part> parts) throws IOException, InterruptedException {
        String boundary = "----diffuse" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (Part p : parts) {
            body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name() + "\""
                    + (p.filename() == null ? "" : "; filename=\"" + p.filename() + "\"\r\nContent-Type: application/octet-stream")
                    + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            body.write(p.content());
            body.write("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        body.write(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return serve.http.send(HttpRequest.newBuilder(URI.create(serve.base + "/v1/videos")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static byte[] png(int width, int height, boolean noise) throws IOException {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(width, height,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        Random random = new Random(width);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, noise ? random.nextInt() : (x * 8) << 16 | (y * 8) << 8);
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(image, "png", bytes);
        return bytes.toByteArray();
    }

    /** Runs a command; "" when it exits 0, else its exit code and output. */
    private static String sh(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? "" : String.join(" ", command) + ": exit " + p.exitValue() + ": " + output.trim();
    }
}
