package io.diffuse.serve.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Two ranks on two "hosts" (network namespaces joined by a veth pair, see {@link TwoHosts}), started
 * the torchrun way with MASTER_ADDR = rank 0's address on that link and no GLOO_SOCKET_IFNAME: the
 * engine binds Gloo to the address that routes to rank 0 (the host name here resolves to 127.0.0.1,
 * which the other host cannot reach). The result equals the same run on two local ranks, bit for bit.
 * Needs root and iproute2; skipped, saying why, without them.
 */
class AcrossHostsTest {
    private static final Duration RUN = Duration.ofMinutes(4);

    @TempDir
    Path tmp;

    @BeforeEach
    void needsNamespaces() {
        String why = TwoHosts.unavailable();
        Assumptions.assumeTrue(why == null, () -> "two-host test skipped: " + why);
    }

    @Test
    void generateUlysses2AcrossTwoHostsEqualsOneHost() throws Exception {
        List<String> args = List.of("generate", "--prompt", "a red fox", "--ulysses", "2", "--height", "64", "--width",
                "64", "--num-frames", "5", "--num-inference-steps", "3", "--seed", "7", "--threads", "1");
        Path local = Files.createDirectories(tmp.resolve("local"));
        List<String> localCommand = new ArrayList<>(java(args));
        localCommand.addAll(List.of("--nproc", "2", "--output", local.resolve("v.mp4").toString(), "--output-tensors",
                local.resolve("v.safetensors").toString()));
        Process one = new ProcessBuilder(localCommand).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("local.out").toFile()).start();
        try {
            assertTrue(one.waitFor(RUN.toSeconds(), TimeUnit.SECONDS), read("local.out"));
        } finally {
            one.destroyForcibly();
        }
        assertEquals(0, one.exitValue(), read("local.out"));

        try (TwoHosts hosts = twoHosts()) {
            int masterPort = ServeProcess.freePort();
            List<Process> ranks = new ArrayList<>();
            for (int rank = 0; rank < 2; rank++) {
                Path dir = Files.createDirectories(tmp.resolve("rank" + rank));
                List<String> command = new ArrayList<>(java(args));
                command.addAll(List.of("--output", dir.resolve("v.mp4").toString(), "--output-tensors",
                        dir.resolve("v.safetensors").toString()));
                ranks.add(hosts.start(rank == 0 ? hosts.hostA : hosts.hostB, torchrun(rank, hosts.addressA, masterPort),
                        command, tmp.resolve("rank" + rank + ".out"), tmp.resolve("rank" + rank + ".err")));
            }
            for (Process rank : ranks) {
                assertTrue(rank.waitFor(RUN.toSeconds(), TimeUnit.SECONDS), ranksOutput());
                assertEquals(0, rank.exitValue(), ranksOutput());
            }
        }
        assertArrayEquals(Files.readAllBytes(local.resolve("v.mp4")), Files.readAllBytes(tmp.resolve("rank0/v.mp4")),
                "MP4 bytes across two hosts differ from one host's");
        assertArrayEquals(Files.readAllBytes(local.resolve("v.safetensors")),
                Files.readAllBytes(tmp.resolve("rank0/v.safetensors")),
                "latents/video tensors across two hosts differ from one host's");
    }

    /**
     * One case per server layout: the flags every rank gets and the requests to run. Each request's
     * MP4 across the two hosts must equal the local two-rank server's for the same request.
     */
    static Stream<Arguments> serveCases() {
        Map<String, Object> request = Map.of("prompt", "a red fox", "size", "64x64", "num_frames", 5,
                "num_inference_steps", 3, "seed", 7);
        return Stream.of(Arguments.of("one job on both ranks (Ulysses 2)", List.of("--ulysses", "2"), List.of(request)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("serveCases")
    void serveAcrossTwoHostsEqualsOneHost(String name, List<String> flags, List<Map<String, Object>> requests)
            throws Exception {
        List<byte[]> expected = new ArrayList<>();
        String[] localFlags = Stream.concat(Stream.of("--nproc", "2"), flags.stream()).toArray(String[]::new);
        try (ServeProcess local = new ServeProcess(tmp.resolve("local"), Map.of(), localFlags)) {
            local.awaitReady(RUN);
            for (Map<String, Object> request : requests) {
                String job = completed(local.base, local.postJson("/v1/videos", request));
                expected.add(http.send(HttpRequest.newBuilder(URI.create(job + "/content")).build(),
                        HttpResponse.BodyHandlers.ofByteArray()).body());
            }
        }

        try (TwoHosts hosts = twoHosts()) {
            int masterPort = ServeProcess.freePort();
            int httpPort = ServeProcess.freePort();
            List<Process> ranks = new ArrayList<>();
            for (int rank = 0; rank < 2; rank++) {
                // Each host has its own output folder: nothing here needs a shared file system.
                List<String> command = new ArrayList<>(java(List.of("serve", "--host", "0.0.0.0", "--port",
                        Integer.toString(httpPort), "--output-dir", tmp.resolve("out" + rank).toString(), "--threads", "1")));
                command.addAll(flags);
                ranks.add(hosts.start(rank == 0 ? hosts.hostA : hosts.hostB, torchrun(rank, hosts.addressA, masterPort),
                        command, tmp.resolve("rank" + rank + ".out"), tmp.resolve("rank" + rank + ".err")));
            }
            long deadline = System.nanoTime() + RUN.toNanos();
            while (!read("rank0.out").contains("diffuse serve: ready")) {
                assertTrue(ranks.get(0).isAlive() && ranks.get(1).isAlive() && System.nanoTime() < deadline, ranksOutput());
                Thread.sleep(200);
            }
            String base = "http://" + hosts.addressAFromRoot + ":" + httpPort; // from the root namespace
            for (int i = 0; i < requests.size(); i++) {
                String job = completed(base, post(base, requests.get(i)));
                HttpResponse<byte[]> mp4 = http.send(HttpRequest.newBuilder(URI.create(job + "/content")).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, mp4.statusCode(), ranksOutput());
                assertArrayEquals(expected.get(i), mp4.body(), name + ": request " + i + "'s MP4 differs from one host's");
            }
            for (Process rank : ranks) {
                rank.toHandle().destroy(); // SIGTERM to every rank, as torchrun and Kubernetes do
            }
            for (Process rank : ranks) {
                assertTrue(rank.waitFor(90, TimeUnit.SECONDS), ranksOutput());
                assertEquals(0, rank.exitValue(), ranksOutput());
            }
        }
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private HttpResponse<String> post(String base, Map<String, Object> body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/videos")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(ServeProcess.JSON.writeValueAsBytes(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Waits for the job that {@code created} made to complete; returns its URL. */
    private String completed(String base, HttpResponse<String> created) throws Exception {
        assertEquals(200, created.statusCode(), created.body());
        String url = base + "/v1/videos/" + ServeProcess.json(created).get("id");
        long deadline = System.nanoTime() + RUN.toNanos();
        Map<String, Object> job = Map.of();
        while (System.nanoTime() < deadline && !List.of("completed", "failed").contains(String.valueOf(job.get("status")))) {
            Thread.sleep(200);
            job = ServeProcess.json(http.send(HttpRequest.newBuilder(URI.create(url)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        assertEquals("completed", job.get("status"), job + "\n" + ranksOutput());
        return url;
    }

    private TwoHosts twoHosts() throws Exception {
        try {
            return new TwoHosts();
        } catch (IOException e) {
            // Root without the capability to make namespaces (an unprivileged container): say so.
            Assumptions.assumeFalse(e.getMessage().contains(" netns add "), () -> "two-host test skipped: " + e.getMessage());
            throw e;
        }
    }

    private static List<String> java(List<String> args) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), Cli.class.getName()));
        command.addAll(args);
        return command;
    }

    private static Map<String, String> torchrun(int rank, String masterAddr, int masterPort) {
        return Map.of("RANK", Integer.toString(rank), "LOCAL_RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", masterAddr,
                "MASTER_PORT", Integer.toString(masterPort));
    }

    private String read(String file) throws IOException {
        Path p = tmp.resolve(file);
        return Files.exists(p) ? Files.readString(p) : "";
    }

    private String ranksOutput() throws IOException {
        StringBuilder b = new StringBuilder();
        for (String f : List.of("rank0.out", "rank0.err", "rank1.out", "rank1.err")) {
            b.append("--- ").append(f).append('\n').append(read(f)).append('\n');
        }
        return b.toString();
    }
}
