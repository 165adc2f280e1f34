package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.core.registry.PluginRegistry.Installed;
import java.util.Map;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;

/** The engine's strategy comes from configuration (ConfigAdmin PID io.diffuse.engine) and the DS registry. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ServicesWiredFromConfigurationIT extends OsgiTestSupport {

    @Override
    protected Option[] extraOptions() {
        return StrategyUnderTest.bootOptions();
    }

    @After
    public void dropConfiguration() throws Exception {
        configureEngine(null);
    }

    @Test
    public void registryListsTheStrategyWithItsBundle() throws Exception {
        await(StrategyUnderTest.NAME + " in the registry", () -> strategyInstalled(StrategyUnderTest.NAME));
        Installed<ParallelStrategy> installed = registry.strategies().stream()
                .filter(i -> i.name().equals(StrategyUnderTest.NAME)).findFirst().orElseThrow();
        String bsn = TestBundles.symbolicName(StrategyUnderTest.BUNDLE);
        assertTrue("origin names the providing bundle: " + installed.origin(), installed.origin().startsWith(bsn + " "));
        // The registry holds the very service object the bundle registered.
        ServiceReference<ParallelStrategy> ref = context.getServiceReferences(ParallelStrategy.class,
                "(" + ParallelStrategy.NAME_PROPERTY + "=" + StrategyUnderTest.NAME + ")").iterator().next();
        assertSame(context.getService(ref), installed.service());
        context.ungetService(ref);
    }

    @Test
    public void configuredStrategyIsTheOneWorkUses() throws Exception {
        configureEngine(Map.of("diffuse.parallel.strategy", StrategyUnderTest.NAME));
        await("engine configured with " + StrategyUnderTest.NAME, () -> safeName().equals(StrategyUnderTest.NAME));
        assertEquals(StrategyUnderTest.NAME, work());
        assertEquals(Map.of("diffuse.parallel.strategy", StrategyUnderTest.NAME), engine.managedConfiguration());

        // The CLI sees the same managed configuration, below its own flags.
        CliRun info = cli("info");
        assertEquals(info.err(), 0, info.exitCode());
        assertTrue(info.out(), info.out().contains("strategy " + StrategyUnderTest.NAME + ","));
        CliRun flagged = cli("info", "-C", "parallel.strategy=local");
        assertTrue(flagged.out(), flagged.out().contains("strategy local,"));
    }

    private String safeName() {
        try {
            return engine.strategyName();
        } catch (RuntimeException e) {
            return "";
        }
    }
}
