package io.diffuse.usp;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Plan validation happens before any rank starts work and names what is allowed. */
class StrategyValidationTest {
    @Test
    void ulyssesDegreeThatDoesNotDivideTheHeadsListsTheValidDegrees() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new UlyssesStrategy().validate(new ParallelPlan(3, 3, 1, 1, 1), 16));
        assertTrue(e.getMessage().contains("Ulysses degree 3"), e.getMessage());
        assertTrue(e.getMessage().contains("16 attention heads"), e.getMessage());
        assertTrue(e.getMessage().contains("[1, 2, 4, 8, 16]"), e.getMessage());
    }

    @Test
    void uspChecksTheUlyssesPartOnly() {
        assertDoesNotThrow(() -> new UspStrategy().validate(new ParallelPlan(6, 2, 3, 1, 1), 16));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new UspStrategy().validate(new ParallelPlan(6, 3, 2, 1, 1), 16));
        assertTrue(e.getMessage().contains("[1, 2, 4, 8, 16]"), e.getMessage());
    }

    @Test
    void ringTakesAnyGroupSize() {
        assertDoesNotThrow(() -> new RingStrategy().validate(new ParallelPlan(3, 1, 3, 1, 1), 16));
        assertDoesNotThrow(() -> new RingStrategy().validate(new ParallelPlan(12, 1, 6, 2, 1), 16));
    }

    @Test
    void singleKindStrategiesRejectTheOtherDegree() {
        IllegalArgumentException ulysses = assertThrows(IllegalArgumentException.class,
                () -> new UlyssesStrategy().validate(new ParallelPlan(4, 2, 2, 1, 1), 16));
        assertTrue(ulysses.getMessage().contains("'usp'"), ulysses.getMessage());
        IllegalArgumentException ring = assertThrows(IllegalArgumentException.class,
                () -> new RingStrategy().validate(new ParallelPlan(4, 2, 2, 1, 1), 16));
        assertTrue(ring.getMessage().contains("'usp'"), ring.getMessage());
    }

    @Test
    void strategiesAreFoundByTheServiceLoaderRegistry() {
        List<String> names = new ServiceLoaderRegistry().strategies().stream().map(i -> i.name()).sorted().toList();
        assertTrue(names.containsAll(List.of("ring", "ulysses", "usp")), names.toString());
    }

    @Test
    void strategiesAreDeclarativeServicesComponentsWithTheirName() throws Exception {
        // bnd turns the @Component annotations into OSGI-INF descriptors during process-classes.
        for (ParallelStrategy s : List.of(new UlyssesStrategy(), new RingStrategy(), new UspStrategy())) {
            String resource = "OSGI-INF/" + s.getClass().getName() + ".xml";
            try (var in = getClass().getClassLoader().getResourceAsStream(resource)) {
                assertTrue(in != null, "missing " + resource);
                String xml = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(xml.contains("name=\"strategy.name\"") && xml.contains("value=\"" + s.name() + "\""), xml);
                assertTrue(xml.contains("io.diffuse.api.parallel.ParallelStrategy"), xml);
            }
        }
    }
}
