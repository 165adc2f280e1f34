package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

/**
 * What a new operator meets in the first hour (issue 18, items 6 to 10), against one {@code diffuse
 * serve} of the demo (2 rank processes, started as a user would, with no output folder configured) and
 * {@code diffuse generate} runs whose ranks are processes: the size a job reports is the size it wrote,
 * errors name what the client sent, every refused request is counted, the default output folder is the
 * user's own, and a default run is quiet.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FirstHourTest {
    private static final String ADMIN_KEY = "first-hour-admin";

    private Path tmp;
    private Path dataHome;
    private ServeProcess serve;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("first-hour-test");
        dataHome = tmp.resolve("xdg-data");
        // No output folder given (an empty --output-dir is the default), a per-user data folder as XDG sets it.
        serve = new ServeProcess(Path.of(""), Map.of("XDG_DATA_HOME", dataHome.toString(), "DIFFUSE_SERVE_ADMIN__KEY",
                ADMIN_KEY)).awaitReady(Duration.ofMinutes(3));
    }

    @AfterAll
    void stop() throws Exception {
        if (serve != null) {
            serve.close();
        }
        try (var files = Files.walk(tmp)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A 160 x 120 (4:3) PNG: the demo's image-to-video fits 128 x 128 to 144 x 112 for it. */
    private static byte[] fourByThreePng() throws Exception {
        BufferedImage image = new BufferedImage(160, 120, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 120; y++) {
            for (int x = 0; x < 160; x++) {
                image.setRGB(x, y, (x * 7 % 256) << 16 | (y * 5 % 256) << 8 | 128);
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(image, "png", png);
        return png.toByteArray();
    }

    /** Item 10: with no output folder configured, jobs go to the user's own data folder, not a shared temporary one. */
    @Test
    void theDefaultOutputFolderIsTheUsersOwn() throws Exception {
        Path expected = dataHome.resolve("diffuse").resolve("serve");
        assertTrue(serve.output().contains("outputs in " + expected), serve.output());
        String id = (String) ServeProcess.json(serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "64x64",
                "num_frames", 5, "num_inference_steps", 2))).get("id");
        assertEquals("completed", serve.awaitEnd(id, Duration.ofMinutes(2)).get("status"));
        assertTrue(Files.isRegularFile(expected.resolve(id + ".mp4")), "the job's MP4 under " + expected);
    }

    /** Item 6: an image-to-video job at 128x128 with a 4:3 image writes 144x112, and its job says so. */
    @Test
    void anImageToVideoJobReportsTheSizeItWrote() throws Exception {
        HttpResponse<String> created = serve.postMultipart("/v1/videos", Map.of("prompt", "a fox", "size", "128x128",
                "num_frames", "5", "num_inference_steps", "2", "seed", "1", "input_reference", fourByThreePng()));
        assertEquals(200, created.statusCode(), created.body());
        String id = (String) ServeProcess.json(created).get("id");
        Map<String, Object> done = serve.awaitEnd(id, Duration.ofMinutes(2));
        assertEquals("completed", done.get("status"), done.toString());
        assertEquals("144x112", done.get("size"), done.toString());
        assertEquals("144x112", ServeProcess.json(serve.get("/v1/videos/" + id)).get("size"), "polled again");
    }

    private double rejected(String reason) throws Exception {
        String prefix = "diffuse_requests_rejected_total{reason=\"" + reason + "\"";
        for (String line : serve.get("/metrics").body().split("\n")) {
            if (line.startsWith(prefix)) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    /** Item 10: a body that is not JSON and an upload that is not an image are refused and counted as refused. */
    @Test
    void badJsonAndBadUploadsAreCountedAsRejected() throws Exception {
        double before = rejected("invalid_request");
        HttpResponse<String> notJson = serve.http.send(HttpRequest.newBuilder(URI.create(serve.base + "/v1/videos"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"a cat\""))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, notJson.statusCode(), notJson.body());
        HttpResponse<String> notAnImage = serve.postMultipart("/v1/videos", Map.of("prompt", "a cat",
                "input_reference", "this is not a PNG".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertEquals(400, notAnImage.statusCode(), notAnImage.body());
        assertEquals(before + 2, rejected("invalid_request"), serve.get("/metrics").body());
    }

    /** Item 8: the server's errors name the request's fields, not the command line's flags. */
    @Test
    void httpErrorsNameRequestFieldsNotCommandLineFlags() throws Exception {
        HttpResponse<String> size = serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "100x100",
                "num_frames", 5));
        assertEquals(400, size.statusCode(), size.body());
        Map<?, ?> error = (Map<?, ?>) ServeProcess.json(size).get("error");
        assertEquals("size", error.get("param"), size.body());
        String message = String.valueOf(error.get("message"));
        assertTrue(message.contains("height 100"), message);
        assertFalse(message.contains("--"), "names a command-line flag: " + message);

        HttpResponse<String> degrees = serve.postJson("/v1/videos", Map.of("prompt", "a cat", "size", "64x64",
                "num_frames", 5, "parallel", Map.of("ulysses", 4)));
        assertEquals(400, degrees.statusCode(), degrees.body());
        String degreesMessage = String.valueOf(((Map<?, ?>) ServeProcess.json(degrees).get("error")).get("message"));
        assertFalse(degreesMessage.contains("--"), "names a command-line flag: " + degreesMessage);
        assertTrue(degreesMessage.contains("product is 2"), degreesMessage);
    }

    /** Item 8: an admin key typo is reported on the key that was sent, even where the suggested key is sent too. */
    @Test
    void anAdminKeyTypoNamesTheKeyThatWasSent() throws Exception {
        Map<String, Object> body = Map.of("diffuse.parallel.ring", 2, "diffuse.parallel.ulysses", 1, "diffuse.parallel.rng", 2);
        HttpResponse<String> refused = serve.admin("/admin/defaults", "PUT", ADMIN_KEY, body);
        assertEquals(400, refused.statusCode(), refused.body());
        Map<?, ?> error = (Map<?, ?>) ServeProcess.json(refused).get("error");
        assertEquals("diffuse.parallel.rng", error.get("param"), refused.body());
        assertTrue(String.valueOf(error.get("message")).contains("did you mean diffuse.parallel.ring"), refused.body());
    }

    private record Run(int code, String out, String err) {
    }

    /** {@code diffuse generate} on the command line, its ranks processes (the launcher is this JVM). */
    private static Run generate(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.of(
                new CliEnvironment.ProcessCommand(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                        System.getProperty("java.class.path"), Cli.class.getName())))));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * Items 6, 7, 8, 9 on one default 2-rank image-to-video run: it prints the size it wrote (and why
     * it is not the one asked), says that no prompt was given, takes --steps, writes the AVI its name
     * asks for, and prints none of Gloo's connection lines.
     */
    @Test
    void aDefaultGenerateReportsWhatItWroteAndIsQuiet() throws Exception {
        Path image = tmp.resolve("four-by-three.png");
        Files.write(image, fourByThreePng());
        Path avi = tmp.resolve("fox.avi");
        Run r = generate("generate", "--image", image.toString(), "--width", "128", "--height", "128", "--num-frames", "5",
                "--steps", "2", "--threads", "1", "--output", avi.toString());
        String log = r.out() + "\n--- stderr\n" + r.err();
        assertEquals(0, r.code(), log);
        assertTrue(r.out().contains("wrote " + avi + " (144x112, 5 frames"), log);
        assertTrue(r.out().contains("128x128 was asked"), log);
        assertTrue(r.out().contains("No --prompt given"), log);
        assertTrue(r.out().contains("world=2"), "the demo's 2-rank plan: " + log);
        assertFalse(log.contains("[Gloo]"), log);
        byte[] head = Arrays.copyOf(Files.readAllBytes(avi), 12);
        assertArrayEquals("RIFF".getBytes(), Arrays.copyOfRange(head, 0, 4), "an AVI (RIFF) file: " + Arrays.toString(head));
        assertArrayEquals("AVI ".getBytes(), Arrays.copyOfRange(head, 8, 12), "an AVI (RIFF) file: " + Arrays.toString(head));
    }

    /** Item 9: a name whose container FFmpeg cannot write H.264 into is one line, before any rank starts. */
    @Test
    void aVideoNameWithoutAFittingContainerIsOneLineBeforeAnyRankStarts() {
        Path png = tmp.resolve("video.png");
        Run r = generate("generate", "--prompt", "a fox", "--num-frames", "5", "--steps", "1", "--output", png.toString());
        assertNotEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--output " + png), r.err());
        assertFalse(r.err().contains("rank 0 started"), "no rank started: " + r.err());
        assertFalse(Files.exists(png));
    }

    /** Item 6: the Java API's result reports the size written, too (one rank, in this JVM). */
    @Test
    void theJavaApiReportsTheSizeWritten() throws Exception {
        Path image = tmp.resolve("api-four-by-three.png");
        Files.write(image, fourByThreePng());
        Path mp4 = tmp.resolve("api.mp4");
        try (io.diffuse.api.embed.DiffuseEngine engine = io.diffuse.api.embed.Diffuse.builder()
                .set("diffuse.generate.model", "builtin:demo").set("diffuse.threads", 1).build()) {
            io.diffuse.api.embed.VideoResult result;
            try (org.bytedeco.javacpp.PointerScope callers = new org.bytedeco.javacpp.PointerScope()) {
                result = engine.generate(io.diffuse.api.embed.VideoRequest.builder()
                        .prompt("a fox").image(image).size(128, 128).numFrames(5).numInferenceSteps(1).output(mp4).build(),
                        io.diffuse.api.model.ProgressListener.NONE);
                assertEquals(List.of(144, 112, 5), List.of(result.width(), result.height(), result.frames()), "width, height, frames");
                // The result's tensors are the caller's, alive after generate returns, until the caller's scope closes.
                assertEquals(List.of(1L, 3L, 5L, 112L, 144L), java.util.Arrays.stream(result.video().sizes().vec().get()).boxed()
                        .toList(), "video (B, 3, F, H, W)");
                assertEquals(5, result.latents().dim(), "latents (B, C, T, H, W)");
            }
            assertTrue(result.video().isNull() && result.latents().isNull(), "freed with the caller's scope");
        }
        assertTrue(Files.size(mp4) > 0);
    }

    /** Item 8: a sequence-parallel degree alone says which rank count it needs. */
    @Test
    void aDegreeAloneSuggestsTheRankCountItNeeds() {
        Run r = generate("generate", "--prompt", "a fox", "--ulysses", "4", "--output", tmp.resolve("u.mp4").toString());
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("--nproc 4"), r.err());
    }
}
