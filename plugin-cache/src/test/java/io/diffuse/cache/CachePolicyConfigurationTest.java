package io.diffuse.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.NotInstalledException;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.registry.PluginRegistry;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * Selecting a policy per run through the engine: the registry finds this bundle's policies by name
 * (META-INF/services), the engine's context hands the configured one to the model with its
 * diffuse.cache settings (this bundle's reference.conf defaults included), and bad settings fail
 * before the run with one line naming the key.
 */
class CachePolicyConfigurationTest {
    private static final PluginRegistry REGISTRY = new ServiceLoaderRegistry();

    private static RuntimeContext context(Map<String, Object> flags) {
        EngineSettings settings = EngineSettings.from(ConfigLoader.load(null, flags, Map.of(), new Properties(),
                REGISTRY.classLoaders()));
        try (RankRuntime runtime = RankRuntime.join(settings, REGISTRY, Map.of())) {
            return runtime.context(new DiffusersCheckpointLoader());
        }
    }

    @Test
    void registryListsThePoliciesOfThisBundle() {
        assertEquals(List.of("first-block", "mag-cache"), REGISTRY.cachePolicies().stream().map(PluginRegistry.Installed::name).toList());
        assertTrue(REGISTRY.cachePolicy("first-block") instanceof FirstBlockCachePolicy);
        assertEquals("none", REGISTRY.cachePolicy("none").name());
    }

    @Test
    void cachingIsOffByDefaultAndSelectedByName() {
        assertEquals("none", context(Map.of()).cachePolicy().name());
        RuntimeContext fbc = context(Map.of("diffuse.cache.policy", "first-block", "diffuse.cache.threshold", 0.3));
        assertEquals("first-block", fbc.cachePolicy().name());
        Map<String, Object> settings = fbc.configuration("diffuse.cache");
        assertEquals(0.3, ((Number) settings.get("threshold")).doubleValue());
        assertEquals(3, ((Number) settings.get("mag-cache.max-skip-steps")).intValue(), "this bundle's reference.conf");
        assertEquals("mag-cache", context(Map.of("diffuse.cache.policy", "mag-cache", "diffuse.cache.mag-cache.mag-ratios",
                List.of(1.0, 1.02, 0.98))).cachePolicy().name());
        // As -C cache.mag-cache.mag-ratios=[...] gives it: a string.
        RuntimeContext flag = context(Map.of("diffuse.cache.policy", "mag-cache", "diffuse.cache.mag-cache.mag-ratios",
                "[1.0, 1.02,0.98]"));
        assertEquals(List.of(1.0, 1.02, 0.98), new io.diffuse.api.cache.StepCachePolicy.CacheRun(
                flag.configuration("diffuse.cache"), 3, 0).numbers("mag-cache.mag-ratios"));
        DiffuseException notNumbers = assertThrows(DiffuseException.class, () -> context(Map.of("diffuse.cache.policy",
                "mag-cache", "diffuse.cache.mag-cache.mag-ratios", "[1.0, x]")));
        assertTrue(notNumbers.getMessage().contains("diffuse.cache.mag-cache.mag-ratios: 'x' is not a number"),
                notNumbers.getMessage());
    }

    @Test
    void badSettingsFailBeforeTheRunNamingTheKey() {
        NotInstalledException unknown = assertThrows(NotInstalledException.class,
                () -> context(Map.of("diffuse.cache.policy", "teacache")));
        assertTrue(unknown.getMessage().contains("teacache") && unknown.getMessage().contains("first-block")
                && unknown.getMessage().contains("mag-cache") && unknown.getMessage().contains("none"), unknown.getMessage());
        DiffuseException threshold = assertThrows(DiffuseException.class,
                () -> context(Map.of("diffuse.cache.policy", "first-block", "diffuse.cache.threshold", -0.1)));
        assertTrue(threshold.getMessage().contains("diffuse.cache.threshold"), threshold.getMessage());
        DiffuseException notANumber = assertThrows(DiffuseException.class,
                () -> context(Map.of("diffuse.cache.policy", "first-block", "diffuse.cache.threshold", "high")));
        assertTrue(notANumber.getMessage().contains("diffuse.cache.threshold = 'high'"), notANumber.getMessage());
        DiffuseException ratios = assertThrows(DiffuseException.class, () -> context(Map.of("diffuse.cache.policy", "mag-cache")));
        assertTrue(ratios.getMessage().contains("diffuse.cache.mag-cache.mag-ratios")
                && ratios.getMessage().contains("calibrate = true"), ratios.getMessage());
    }

    @Test
    void magRatiosAreResampledAsDiffusersNearestInterp() {
        float[] src = {1f, 2f, 3f, 4f, 5f};
        // torch: round(arange(3) * 2.0) -> [0, 2, 4]; round(arange(4) * (4/3)) -> [0, 1, 3, 4] (2.67 -> 3)
        assertEquals(List.of(1f, 3f, 5f), boxed(MagCachePolicy.nearestInterp(src, 3)));
        assertEquals(List.of(1f, 2f, 4f, 5f), boxed(MagCachePolicy.nearestInterp(src, 4)));
        assertEquals(List.of(5f), boxed(MagCachePolicy.nearestInterp(src, 1)));
    }

    private static List<Float> boxed(float[] a) {
        List<Float> out = new java.util.ArrayList<>();
        for (float f : a) {
            out.add(f);
        }
        return out;
    }
}
