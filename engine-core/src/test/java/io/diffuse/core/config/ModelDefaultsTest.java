package io.diffuse.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * A model's plan group (the demo's: 2 ranks, Ulysses 2, USP) under the user's keys: the rank count
 * stays unless one is given, the layout only while no rank count and none of its keys is given; the
 * same key from a flag and from the managed layer (a deploy/ .cfg) gives the same plan.
 */
class ModelDefaultsTest {
    private static final Map<String, Object> DEMO_PLAN;

    static {
        Map<String, Object> plan = new LinkedHashMap<>();
        plan.put("diffuse.parallel.nproc", 2);
        plan.put("diffuse.parallel.ulysses", 2);
        plan.put("diffuse.parallel.ring", 1);
        plan.put("diffuse.parallel.cfg", 1);
        plan.put("diffuse.parallel.strategy", "usp");
        plan.put("diffuse.parallel.vae", 2);
        DEMO_PLAN = plan;
    }

    private static EngineSettings.Parallel plan(Map<String, ?> flags, Map<String, ?> managed, Integer world) {
        LayeredConfig layers = ConfigLoader.layers(null, flags, managed, Map.of(), new Properties(), List.of());
        if (world != null) {
            layers = layers.withDefault("diffuse.parallel.nproc", world, "a server's world");
        }
        LayeredConfig withModel = ModelDefaults.add(layers, List.of(DEMO_PLAN, Map.of("diffuse.vae.tiling", true)), "demo");
        return EngineSettings.from(ParallelDefaults.allRanksInOneGroup(withModel, ParallelDefaults.RING).effective()).parallel();
    }

    @Test
    void nothingSetIsTheModelsPlan() {
        EngineSettings.Parallel p = plan(Map.of(), Map.of(), null);
        assertEquals(List.of(2, 2, 1, "usp"), List.of(p.nproc(), p.ulysses(), p.ring(), p.strategy()));
    }

    @Test
    void strategyAloneKeepsTheModelsRanksInOneRingFromAFlagAndFromTheManagedLayer() {
        for (EngineSettings.Parallel p : List.of(plan(Map.of("diffuse.parallel.strategy", "ring"), Map.of(), null),
                plan(Map.of(), Map.of("diffuse.parallel.strategy", "ring"), null),
                plan(Map.of(), Map.of("diffuse.parallel.strategy", "ring"), 2))) {
            assertEquals(List.of(2, 1, 2, "ring"), List.of(p.nproc(), p.ulysses(), p.ring(), p.strategy()), p.toString());
            assertEquals(2, p.vae());
        }
    }

    @Test
    void aRankCountGivenReplacesTheModelsLayoutWithOneGroup() {
        EngineSettings.Parallel p = plan(Map.of("diffuse.parallel.nproc", 4), Map.of(), null);
        assertEquals(List.of(4, 1, 4, "ring"), List.of(p.nproc(), p.ulysses(), p.ring(), p.strategy()));
    }

    @Test
    void aWorldBelowTheUsersLayersThatIsNotTheModelsRankCountGetsNoneOfItsLayout() {
        EngineSettings.Parallel p = plan(Map.of(), Map.of(), 4);
        assertEquals(List.of(4, 1, 4, "ring"), List.of(p.nproc(), p.ulysses(), p.ring(), p.strategy()));
        EngineSettings.Parallel same = plan(Map.of(), Map.of(), 2);
        assertEquals(List.of(2, 2, 1, "usp"), List.of(same.nproc(), same.ulysses(), same.ring(), same.strategy()));
    }
}
