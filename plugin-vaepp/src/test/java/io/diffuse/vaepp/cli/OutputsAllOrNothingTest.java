package io.diffuse.vaepp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A run's outputs appear all together or not at all: Ctrl-C while they are being written leaves no
 * temporary and none of them; a frame folder holds exactly the frames of the last run.
 */
class OutputsAllOrNothingTest {
    @TempDir
    Path tmp;

    @Test
    void aShorterRunLeavesNoStaleFrames() throws Exception {
        Path frames = tmp.resolve("frames");
        for (String n : new String[] {"17", "9"}) {
            StringWriter err = new StringWriter();
            CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.empty()));
            cl.setOut(new PrintWriter(new StringWriter(), true));
            cl.setErr(new PrintWriter(err, true));
            assertEquals(0, cl.execute("generate", "--nproc", "1", "--height", "32", "--width", "32", "--num-frames", n,
                    "--num-inference-steps", "1", "--png-frames", frames.toString()), err.toString());
        }
        try (Stream<Path> s = Files.list(frames)) {
            assertEquals(9, s.count(), "the 9 frames of the last run, none of the 17 of the first");
        }
    }

    /**
     * A graceful stop (SIGTERM, which the JVM handles as Ctrl-C's SIGINT: shutdown hooks run) sent as
     * soon as the first staging file appears. Writing takes a fraction of a second, so on a loaded
     * machine the signal can land after the run finished: such an attempt (exit 0) proves nothing and
     * is repeated, up to 4 times; an attempt the signal stopped must leave nothing.
     */
    @Test
    void aGracefulStopWhileOutputsAreWrittenLeavesNothing() throws Exception {
        for (int attempt = 1; attempt <= 4; attempt++) {
            Path work = Files.createDirectory(tmp.resolve("work-" + attempt));
            Path outs = Files.createDirectory(tmp.resolve("outs-" + attempt));
            List<String> cmd = new ArrayList<>(CliProcess.javaCommand(List.of()));
            cmd.addAll(List.of("generate", "--nproc", "1", "--height", "128", "--width", "128", "--num-frames", "121",
                    "--num-inference-steps", "1", "--output-tensors", outs.resolve("t.safetensors").toString(),
                    "--png-frames", outs.resolve("frames").toString(), "--output", outs.resolve("v.mp4").toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
                    .redirectOutput(work.resolve("log.txt").toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("DIFFUSE_"));
            Process p = pb.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            boolean staging = false;
            while (!staging && p.isAlive() && System.nanoTime() < deadline) {
                try (Stream<Path> s = Files.list(outs)) {
                    staging = s.anyMatch(f -> f.getFileName().toString().contains(".staging-"));
                }
                if (!staging) {
                    Thread.sleep(2);
                }
            }
            p.toHandle().destroy(); // SIGTERM
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            if (p.exitValue() == 0 || Files.readString(work.resolve("log.txt")).contains("wrote ")) {
                continue; // the outputs were complete before the signal: try again
            }
            assertTrue(staging, "outputs were being written when stopped: " + Files.readString(work.resolve("log.txt")));
            try (Stream<Path> s = Files.list(outs)) {
                assertEquals(List.of(), s.toList(), "no temporary and no output of the interrupted run");
            }
            return;
        }
        throw new AssertionError("in 4 attempts the run always finished writing before the signal arrived");
    }
}
