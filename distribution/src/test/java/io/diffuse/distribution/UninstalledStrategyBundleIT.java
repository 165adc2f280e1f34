package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import io.diffuse.api.NotInstalledException;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/**
 * Work configured for a strategy whose bundle was uninstalled fails with a clear "not installed"
 * error naming it; once the bundle is installed again, the same work runs, with no restart.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class UninstalledStrategyBundleIT extends OsgiTestSupport {

    @Test
    public void uninstallThenReinstall() throws Exception {
        Bundle bundle = ensureInstalled(StrategyUnderTest.BUNDLE);
        configureEngine(Map.of("diffuse.parallel.strategy", StrategyUnderTest.NAME));
        await("configured and installed", () -> strategyInstalled(StrategyUnderTest.NAME) && configured());
        assertEquals(StrategyUnderTest.NAME, work());

        uninstall(bundle);
        await("registry drops " + StrategyUnderTest.NAME, () -> !strategyInstalled(StrategyUnderTest.NAME));
        NotInstalledException e = assertThrows(NotInstalledException.class, this::work);
        assertEquals(StrategyUnderTest.NAME, e.name());
        assertEquals("parallel strategy", e.kind());
        assertTrue(e.getMessage(), e.getMessage().startsWith("parallel strategy '" + StrategyUnderTest.NAME + "' is not installed"));
        // diffuse info no longer lists the bundle.
        CliRun run = cli("info");
        assertEquals(0, run.exitCode());
        assertTrue(run.out(), !run.out().contains("[" + TestBundles.symbolicName(StrategyUnderTest.BUNDLE)));

        ensureInstalled(StrategyUnderTest.BUNDLE);
        await("registry binds " + StrategyUnderTest.NAME + " again", () -> strategyInstalled(StrategyUnderTest.NAME));
        assertEquals(StrategyUnderTest.NAME, work());
    }

    private boolean configured() {
        try {
            return engine.strategyName().equals(StrategyUnderTest.NAME);
        } catch (RuntimeException e) {
            return false;
        }
    }
}
