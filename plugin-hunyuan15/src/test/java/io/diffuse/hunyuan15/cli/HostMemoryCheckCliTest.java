package io.diffuse.hunyuan15.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code diffuse generate} refuses a request its host cannot hold (the model's memory estimate for
 * the run's local ranks against the host's available memory) with one line, before any rank starts.
 */
class HostMemoryCheckCliTest {
    @TempDir
    Path tmp;

    @Test
    void aRequestLargerThanTheHostIsRefusedBeforeAnyRankStarts() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.empty()));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        Path mp4 = tmp.resolve("big.mp4");
        // The demo on one rank, at the size of issue 19's request: thousands of GiB per rank.
        int code = cl.execute("generate", "--prompt", "a cat", "--width", "16384", "--height", "16384", "--num-frames", "257",
                "--output", mp4.toString(), "--threads", "1", "--nproc", "1", "--strategy", "local");
        assertEquals(1, code, err.toString());
        String[] lines = err.toString().strip().split("\n");
        assertEquals(1, lines.length, err.toString());
        assertTrue(lines[0].startsWith("error: 16384x16384 with 257 frames needs about ") && lines[0].contains(" GiB per rank")
                && lines[0].contains("available for 1 rank(s)"), lines[0]);
        assertFalse((out + "" + err).contains("[launcher]"), "a rank was started:\n" + out + err);
        assertFalse(Files.exists(mp4));
    }
}
