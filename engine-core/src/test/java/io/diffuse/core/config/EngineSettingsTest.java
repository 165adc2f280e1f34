package io.diffuse.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.runtime.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EngineSettingsTest {

    private static EngineSettings settings(Map<String, ?> flags) {
        return EngineSettings.from(ConfigLoader.load(null, flags, Map.of(), new Properties(), List.of()));
    }

    @Test
    void defaultsAreOneRankLocal() {
        EngineSettings s = settings(Map.of());
        assertEquals("cpu", s.device());
        assertEquals(DType.FP32, s.dtype());
        assertEquals(0, s.threads(), "libtorch's default thread count");
        assertEquals(1, s.parallel().nproc());
        assertEquals("local", s.parallel().strategy());
        assertEquals("local", s.vae().executor());
        assertEquals("gloo", s.dist().backend());
        assertEquals(Duration.ofSeconds(60), s.dist().timeout());
        assertEquals("auto", s.attention().backend());
    }

    @Test
    void attentionBackendIsReadCaseInsensitivelyAndCudaOnlyOnesNeedCuda() {
        assertEquals("math", settings(Map.of("diffuse.attention.backend", "Math")).attention().backend());
        assertEquals("onednn", settings(Map.of()).linear().backend());
        assertEquals("blas", settings(Map.of("diffuse.linear.backend", "BLAS")).linear().backend());
        assertEquals("flash", settings(Map.of("diffuse.attention.backend", "flash")).attention().backend());
        assertEquals("cudnn", settings(Map.of("diffuse.device", "cuda", "diffuse.attention.backend", "cudnn"))
                .attention().backend());
        assertEquals("efficient", settings(Map.of("diffuse.device", "cuda:1", "diffuse.attention.backend", "efficient"))
                .attention().backend());
    }

    @Test
    void autoPicksStrategyAndExecutorFromDegrees() {
        EngineSettings s = settings(Map.of("diffuse.parallel.nproc", 4, "diffuse.parallel.ulysses", 2,
                "diffuse.parallel.ring", 2));
        assertEquals("usp", s.parallel().strategy());
        assertEquals("patch-parallel", s.vae().executor());
        assertEquals(4, s.parallel().vae());
        assertEquals("ring", settings(Map.of("diffuse.parallel.nproc", 3, "diffuse.parallel.ring", 3)).parallel().strategy());
        assertEquals("ulysses", settings(Map.of("diffuse.parallel.nproc", 2, "diffuse.parallel.ulysses", 2)).parallel().strategy());
        assertEquals("tiled", settings(Map.of("diffuse.vae.tiling", true)).vae().executor());
    }

    @Test
    void precedenceIsFlagsThenSystemPropertiesThenEnvironmentThenFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("user.conf");
        Files.writeString(file, "diffuse { dtype = bf16, vae.tile-size = 128, dist.timeout = 5s, parallel.cfg = 1 }");
        Properties sys = new Properties();
        sys.setProperty("diffuse.vae.tile-size", "192");
        sys.setProperty("diffuse.dist.timeout", "7s");
        sys.setProperty("unrelated.key", "x");
        Map<String, String> env = Map.of("DIFFUSE_VAE_TILE__SIZE", "64", "DIFFUSE_DIST_TIMEOUT", "9s",
                "DIFFUSE_DTYPE", "fp16", "PATH", "/bin");
        EngineSettings s = EngineSettings.from(ConfigLoader.load(file, Map.of("diffuse.dist.timeout", "3s"), env, sys, List.of()));
        assertEquals(Duration.ofSeconds(3), s.dist().timeout(), "flag wins");
        assertEquals(192, s.vae().tileSize(), "system property beats environment and file");
        assertEquals(DType.FP16, s.dtype(), "environment beats file");
    }

    @Test
    void missingConfigFileNamesTheFlag(@TempDir Path dir) {
        DiffuseException e = assertThrows(DiffuseException.class,
                () -> ConfigLoader.load(dir.resolve("nope.conf"), Map.of(), Map.of(), new Properties(), List.of()));
        assertTrue(e.getMessage().contains("nope.conf") && e.getMessage().contains("--config"), e.getMessage());
    }

    @Test
    void unparsableConfigFileNamesTheFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("broken.conf");
        Files.writeString(file, "diffuse { parallel { ulysses = ");
        DiffuseException e = assertThrows(DiffuseException.class,
                () -> ConfigLoader.load(file, Map.of(), Map.of(), new Properties(), List.of()));
        assertTrue(e.getMessage().contains("broken.conf"), e.getMessage());
    }

    /** Each bad value: one line naming its config path, the value, and what is allowed. */
    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
        "diffuse.device|tpu|diffuse.device|allowed: cpu, cuda",
        "diffuse.dtype|fp64|diffuse.dtype|allowed: fp32, bf16, fp16",
        "diffuse.threads|-1|diffuse.threads|0 (libtorch default, one per core) or a positive",
        "diffuse.threads|many|diffuse.threads|expected an integer",
        "diffuse.parallel.nproc|0|diffuse.parallel.nproc|positive integer",
        "diffuse.parallel.nproc|four|diffuse.parallel.nproc|expected an integer",
        "diffuse.parallel.ulysses|-2|diffuse.parallel.ulysses|positive integer",
        "diffuse.parallel.ring|0|diffuse.parallel.ring|positive integer",
        "diffuse.parallel.cfg|3|diffuse.parallel.cfg|allowed: 1 or 2",
        "diffuse.parallel.vae|5|diffuse.parallel.vae|at most diffuse.parallel.nproc",
        "diffuse.vae.tile-size|0|diffuse.vae.tile-size|positive integer",
        "diffuse.vae.tile-overlap|1.5|diffuse.vae.tile-overlap|[0, 1)",
        "diffuse.vae.tiling|maybe|diffuse.vae.tiling|true or false",
        "diffuse.dist.backend|mpi|diffuse.dist.backend|allowed: auto, gloo, nccl",
        "diffuse.dist.backend|nccl|diffuse.dist.backend|NCCL needs diffuse.device = cuda",
        "diffuse.dist.master-port|70000|diffuse.dist.master-port|1..65535",
        "diffuse.dist.timeout|-5s|diffuse.dist.timeout|positive duration",
        "diffuse.dist.timeout|soon|diffuse.dist.timeout|duration such as 60s",
        "diffuse.parallel.strategy|local|diffuse.parallel.strategy|runs on one rank",
        "diffuse.attention.backend|fastest|diffuse.attention.backend|allowed: auto, flash, efficient, cudnn, math",
        "diffuse.attention.backend|cudnn|diffuse.attention.backend|runs only on CUDA",
        "diffuse.attention.backend|efficient|diffuse.attention.backend|on cpu use auto, flash or math",
        "diffuse.linear.backend|mkl|diffuse.linear.backend|allowed: onednn, blas",
    })
    void badValueNamesItsPath(String key, String value, String path, String allowed) {
        Map<String, Object> flags = new java.util.HashMap<>(Map.of(key, value));
        if (key.equals("diffuse.parallel.strategy")) {
            flags.putAll(Map.of("diffuse.parallel.nproc", 2, "diffuse.parallel.ulysses", 2));
        }
        ConfigException e = assertThrows(ConfigException.class, () -> settings(flags));
        assertEquals(path, e.path());
        assertTrue(e.getMessage().startsWith("invalid configuration " + path + " = "), e.getMessage());
        assertTrue(e.getMessage().contains(allowed), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void degreesNotMatchingRankCountNameTheProductAndTheRankCount() {
        ConfigException e = assertThrows(ConfigException.class, () -> settings(Map.of("diffuse.parallel.nproc", 4,
                "diffuse.parallel.ulysses", 2)));
        assertEquals("diffuse.parallel", e.path());
        assertTrue(e.getMessage().contains("ulysses 2 x ring 1 x cfg 1 = 2"), e.getMessage());
        assertTrue(e.getMessage().contains("diffuse.parallel.nproc = 4"), e.getMessage());
    }

    @Test
    void singleRankExecutorWithVaeGroupIsRejected() {
        ConfigException e = assertThrows(ConfigException.class, () -> settings(Map.of("diffuse.parallel.nproc", 2,
                "diffuse.parallel.ulysses", 2, "diffuse.parallel.vae", 2, "diffuse.vae.executor", "tiled")));
        assertEquals("diffuse.vae.executor", e.path());
    }
}
