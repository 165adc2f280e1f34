package io.diffuse.hunyuan15.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code diffuse bench transformer} through the real CLI on the tiny fixture, one rank: a result row
 * with timings, RSS lines every forward, and no traffic on a single rank. Only the shape of the report
 * is checked; timings are for docs/benchmarks.md, never asserted.
 */
class BenchCliTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @Test
    void transformerBenchPrintsARowAndRssLines() throws Exception {
        Path root = Path.of(BenchCliTest.class.getResource("/fixtures/transformer/tiny").toURI());
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.empty()));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        // The fixture also holds diffusers' `sample`; bench passes only the inputs the runner requires.
        int code = cl.execute("bench", "transformer", "--model", root.toString(), "--inputs",
                root.resolve("t2v.safetensors").toString(), "--warmup", "1", "--iterations", "2", "--rss-every", "1",
                "--threads", "1");
        String o = out.toString();
        assertEquals(0, code, o + err);
        assertEquals(3, o.lines().filter(l -> l.startsWith("rss after forward ")).count(), o);
        Matcher row = Pattern.compile("\\| 1 rank x 1 thread \\| fp32 \\| ([0-9.]+) \\| ([0-9.]+) \\| ([0-9.]+) \\| 0\\.000 \\| ").matcher(o);
        assertTrue(row.find(), o);
        assertTrue(Double.parseDouble(row.group(3)) <= Double.parseDouble(row.group(1)), "min <= median: " + o);
    }

}
