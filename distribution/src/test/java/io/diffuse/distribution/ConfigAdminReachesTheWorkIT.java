package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * A ConfigAdmin configuration of the engine PID reaches the work the CLI service does inside the
 * framework: the denoising steps generate runs, and a bad key fails the command in one line.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ConfigAdminReachesTheWorkIT extends OsgiTestSupport {
    @After
    public void cleanUp() throws Exception {
        configureEngine(null);
    }

    @Test
    public void stepsFromConfigAdminAreTheStepsGenerateRuns() throws Exception {
        configureEngine(Map.of("diffuse.generate.num-inference-steps", "3"));
        await("managed configuration", () -> "3".equals(String.valueOf(engine.managedConfiguration()
                .get("diffuse.generate.num-inference-steps"))));
        Path out = Files.createTempDirectory("diffuse-it-cm-").resolve("t.safetensors");
        CliRun r = cli("generate", "--nproc", "1", "--height", "32", "--width", "32", "--num-frames", "5",
                "--output-tensors", out.toString());
        assertEquals(r.err(), 0, r.exitCode());
        assertTrue(r.err(), r.err().contains(" 3/3 "));
        assertTrue(Files.size(out) > 0);
    }

    @Test
    public void anUnknownKeyFromConfigAdminFailsTheCommandInOneLine() throws Exception {
        configureEngine(Map.of("diffuse.paralel.nproc", "2"));
        await("managed configuration", () -> engine.managedConfiguration().containsKey("diffuse.paralel.nproc"));
        CliRun r = cli("comm-check");
        assertEquals(r.err(), 1, r.exitCode());
        assertEquals("error: unknown configuration key diffuse.paralel.nproc (from managed configuration diffuse.paralel.nproc);"
                + " did you mean diffuse.parallel.nproc? (see `diffuse info --config-dump` for every key)", r.err().strip());
        assertFalse(r.err(), r.err().contains("Exception"));
    }
}
