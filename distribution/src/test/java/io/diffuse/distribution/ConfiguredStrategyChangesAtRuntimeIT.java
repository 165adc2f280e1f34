package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import io.diffuse.api.NotInstalledException;
import io.diffuse.core.engine.Engine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Changing the configured strategy at runtime, through ConfigAdmin and through a .cfg file dropped
 * into the FileInstall deploy folder, reaches the running engine (the same component instance, via
 * its modified method) without a restart.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ConfiguredStrategyChangesAtRuntimeIT extends OsgiTestSupport {
    /** A name no installed bundle provides: switching to it must be seen by the next piece of work. */
    private static final String ABSENT = "ring-of-nowhere";

    @Override
    protected Option[] extraOptions() {
        return StrategyUnderTest.bootOptions();
    }

    @After
    public void cleanUp() throws Exception {
        Files.deleteIfExists(cfgFile());
        configureEngine(null);
    }

    @Test
    public void configAdminUpdateIsBoundWithoutRestart() throws Exception {
        Engine before = engine;
        configureEngine(Map.of("diffuse.parallel.strategy", StrategyUnderTest.NAME));
        await("strategy " + StrategyUnderTest.NAME, () -> name().equals(StrategyUnderTest.NAME));
        assertEquals(StrategyUnderTest.NAME, work());

        configureEngine(Map.of("diffuse.parallel.strategy", ABSENT));
        await("strategy " + ABSENT, () -> name().equals(ABSENT));
        NotInstalledException e = assertThrows(NotInstalledException.class, this::work);
        assertEquals(ABSENT, e.name());

        configureEngine(Map.of("diffuse.parallel.strategy", StrategyUnderTest.NAME));
        await("strategy " + StrategyUnderTest.NAME + " again", () -> name().equals(StrategyUnderTest.NAME));
        assertEquals(StrategyUnderTest.NAME, work());
        assertSame("modified in place, not restarted", before, currentEngine());
    }

    @Test
    public void cfgFileInDeployIsBoundWithoutRestart() throws Exception {
        Engine before = currentEngine();
        Files.writeString(cfgFile(), "diffuse.parallel.strategy = " + StrategyUnderTest.NAME + "\n");
        await("strategy from " + cfgFile(), () -> name().equals(StrategyUnderTest.NAME));
        assertEquals(StrategyUnderTest.NAME, work());

        // FileInstall notices a changed file by its modification time: make sure it moves on.
        Files.writeString(cfgFile(), "diffuse.parallel.strategy = " + ABSENT + "\n");
        Files.setLastModifiedTime(cfgFile(), java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 2000));
        await("strategy " + ABSENT + " from the edited file", () -> name().equals(ABSENT));
        NotInstalledException e = assertThrows(NotInstalledException.class, this::work);
        assertTrue(e.getMessage(), e.getMessage().contains("'" + ABSENT + "' is not installed"));
        assertSame("modified in place, not restarted", before, currentEngine());
    }

    private Path cfgFile() {
        return deployDir().resolve(Engine.PID + ".cfg");
    }

    private Engine currentEngine() {
        var ref = context.getServiceReference(Engine.class);
        Engine e = context.getService(ref);
        context.ungetService(ref);
        return e;
    }

    private String name() {
        try {
            return engine.strategyName();
        } catch (RuntimeException e) {
            return "";
        }
    }
}
