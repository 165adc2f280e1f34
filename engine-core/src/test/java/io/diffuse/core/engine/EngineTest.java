package io.diffuse.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.NotInstalledException;
import io.diffuse.core.config.ConfigException;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineTest {
    private final ServiceLoaderRegistry registry = new ServiceLoaderRegistry();

    @Test
    void managedConfigurationSelectsTheStrategyAndLookupNamesAMissingOne() {
        Engine engine = new Engine(registry, Map.of("diffuse.parallel.strategy", "ring-of-nowhere", "service.pid", Engine.PID));
        assertEquals("ring-of-nowhere", engine.strategyName());
        assertEquals(Map.of("diffuse.parallel.strategy", "ring-of-nowhere"), engine.managedConfiguration());
        NotInstalledException e = assertThrows(NotInstalledException.class, engine::strategy);
        assertEquals("ring-of-nowhere", e.name());
        assertTrue(e.getMessage().startsWith("parallel strategy 'ring-of-nowhere' is not installed"), e.getMessage());
    }

    @Test
    void modifiedReplacesTheSelection() {
        Engine engine = new Engine(registry, Map.of());
        assertEquals("local", engine.strategyName());
        engine.modified(Map.of("diffuse.parallel.strategy", "allgather"));
        assertEquals("allgather", engine.strategyName());
    }

    @Test
    void invalidManagedValueFailsWorkWithItsPath() {
        Engine engine = new Engine(registry, Map.of("diffuse.parallel.ulysses", "3"));
        ConfigException e = assertThrows(ConfigException.class, engine::strategy);
        assertTrue(e.getMessage().startsWith("invalid configuration diffuse.parallel"), e.getMessage());
    }

    @Test
    void managedLayerSitsBelowEnvironmentAndAboveTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("user.conf");
        Files.writeString(file, "diffuse.parallel.strategy = from-file\ndiffuse.dtype = bf16\ndiffuse.device = cuda\n");
        Map<String, Object> managed = Map.of("diffuse.parallel.strategy", "from-cm", "diffuse.dtype", "fp16");
        var config = ConfigLoader.load(file, Map.of(), managed, Map.of("DIFFUSE_DTYPE", "fp32"), new Properties(), List.of());
        assertEquals("from-cm", config.getString("diffuse.parallel.strategy"));
        assertEquals("fp32", config.getString("diffuse.dtype"));
        assertEquals("cuda", config.getString("diffuse.device"));
    }
}
