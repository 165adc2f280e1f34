package org.example.embed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs the example application as a user would: a JVM on its class path, 1 and 2 ranks. */
class GenerateVideoTest {
    @TempDir
    Path tmp;

    private String run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-Dorg.bytedeco.javacpp.nopointergc=true", "-cp", System.getProperty("java.class.path"),
                GenerateVideo.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_") || k.equals("RANK"));
        Process p = pb.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes());
        }
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static void assertMp4(Path mp4) throws IOException {
        byte[] head = Files.readAllBytes(mp4);
        assertTrue(head.length > 200, "an MP4 with frames: " + head.length + " bytes");
        assertArrayEquals("ftyp".getBytes(), java.util.Arrays.copyOfRange(head, 4, 8), "an ISO BMFF (MP4) file");
    }

    @Test
    void demoOnOneRank() throws Exception {
        String out = run(tmp.resolve("one.mp4").toString());
        assertTrue(out.contains("denoise step 3/3"), out);
        assertTrue(out.contains("rank 0 of 1 wrote [" + tmp.resolve("one.mp4") + "] with builtin:demo (hunyuanvideo-1.5)"), out);
        assertMp4(tmp.resolve("one.mp4"));
    }

    /** The example model bundle's family, on the class path next to the shipped one, on two ranks. */
    @Test
    void toyWavesOnTwoRanks() throws Exception {
        String out = run(tmp.resolve("two.mp4").toString(), "2", "builtin:waves");
        assertTrue(out.contains("rank 0 of 2 wrote [" + tmp.resolve("two.mp4") + "] with builtin:waves (toy-waves)"), out);
        assertMp4(tmp.resolve("two.mp4"));
    }
}
