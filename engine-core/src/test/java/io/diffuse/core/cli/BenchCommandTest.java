package io.diffuse.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.dist.CommStats;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.distributed.GroupTraffic;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * bench's option checks (made before any rank or model starts) and its report; the timed run itself
 * needs a model plugin and is exercised in plugin-hunyuan15's CLI test.
 */
class BenchCommandTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.empty()));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    private String[] args(String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("bench", "transformer", "--model", tmp.toString(),
                "--inputs", tmp.resolve("in.safetensors").toString()));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void badCountsAreOneLineErrorsNamingTheFlag() {
        assertEquals(1, run(args("--iterations", "0")));
        assertEquals("error: --iterations 0 must be at least 1", err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(1, run(args("--warmup", "-1")));
        assertEquals("error: --warmup -1 must be 0 or more", err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(1, run(args("--rss-every", "-10")));
        assertTrue(err.toString().startsWith("error: --rss-every -10 must be 0"), err.toString());
    }

    @Test
    void missingInputsFileIsNamed() {
        assertEquals(1, run(args()));
        assertTrue(err.toString().contains("--inputs " + tmp.resolve("in.safetensors") + " does not exist"), err.toString());
    }

    @Test
    void threadsFlagSetsTheConfigurationKey() {
        ParallelOptions options = CommandLine.populateCommand(new ParallelOptions(), "--threads", "3", "--nproc", "2", "--ring", "2");
        EngineSettings s = EngineSettings.from(options.layers(new CliEnvironment(new ServiceLoaderRegistry(), java.util.Map.of(),
                java.util.Optional.empty())).effective());
        assertEquals(3, s.threads());
        assertEquals("ring u1 r2 (2 ranks x 3 threads)", BenchCommand.plan(s));
    }

    @Test
    void summaryIsMedianMeanAndMin() {
        BenchCommand.Summary odd = BenchCommand.Summary.of(new double[] {3, 1, 2});
        assertEquals(new BenchCommand.Summary(2, 2, 1), odd);
        BenchCommand.Summary even = BenchCommand.Summary.of(new double[] {4, 1, 2, 3});
        assertEquals(2.5, even.median());
        assertEquals(1, even.min());
    }

    @Test
    void reportIsOneTableRowWithBytesPerForward() {
        EngineSettings s = EngineSettings.from(ConfigLoader.load(null, Map.of("diffuse.parallel.nproc", 2,
                "diffuse.parallel.ulysses", 2, "diffuse.threads", 1), Map.of(), new Properties(), List.of()));
        GroupTraffic moved = new GroupTraffic(Map.of("all_to_all", new CommStats.Counter(8, 4_000_000, 4_000_000)));
        String r = BenchCommand.report(s, null, new BenchCommand.Summary(1.5, 1.6, 1.4), moved, 2, 100L << 20, 110L << 20,
                new long[] {200L << 20, 220L << 20}, 2);
        assertTrue(r.contains("| ulysses u2 r1 (2 ranks x 1 thread) | fp32 | 1500.0 | 1600.0 | 1400.0 | 2.000 | 4.0 | 100 -> 110 | 220 |"), r);
        assertTrue(r.contains("all_to_all 4.0 calls 2000000 B sent 2000000 B received;"), r);
    }

    @Test
    void residentMemoryIsReadOnLinux() {
        if (java.nio.file.Files.isReadable(Path.of("/proc/self/status"))) {
            assertTrue(BenchCommand.residentBytes() > 1 << 20, "a JVM holds more than 1 MiB");
        }
    }
}
