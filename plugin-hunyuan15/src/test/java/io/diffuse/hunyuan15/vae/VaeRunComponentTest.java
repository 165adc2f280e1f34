package io.diffuse.hunyuan15.vae;

import static io.diffuse.hunyuan15.vae.VaeFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.runtime.DType;
import io.diffuse.hunyuan15.HunyuanVideo15ModelProvider;
import io.diffuse.testkit.SingleRankContext;
import java.nio.file.Path;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * run-component on a tiny VAE no other test loads ("B": other seed, channels and depth), given as
 * a pipeline root: the hunyuanvideo-1.5 provider's vae-encode / vae-decode runners with the "local"
 * and "tiled" executors, all found through ServiceLoader as the engine finds them; inputs read from
 * diffusers' safetensors, outputs written to a file and read back, compared with diffusers'. Max abs
 * error 1e-4 in fp32 (see AutoencoderKLHunyuanVideo15GoldenTest for why).
 */
class VaeRunComponentTest {
    private static final double TOLERANCE = 1e-4;
    private final CheckpointLoader loader = VaeFixtures.loader();
    @TempDir
    Path dir;

    private static VaeExecutor executor(String name) {
        // as the engine finds it: registered in engine-core's META-INF/services
        return new ServiceLoaderRegistry().vaeExecutor(name);
    }

    private void check(String component, String caseName, String executorName) {
        TilingSettings tiling = VaeFixtures.tilingOf(caseName);
        SingleRankContext ctx = new SingleRankContext(DType.FP32, executor(executorName), tiling);
        boolean encode = component.equals(VaeComponentRunner.ENCODE);
        ModelProvider provider = new HunyuanVideo15ModelProvider();
        assertTrue(provider.recognize(VaeFixtures.UNSEEN) == ModelProvider.CERTAIN);
        try (PointerScope scope = new PointerScope();
                ComponentRunner runner = provider.component(component, VaeFixtures.UNSEEN, ctx)) {
            // as run-component does: inputs file -> runner -> outputs file
            Map<String, Tensor> inputs = loader.readTensors(VaeFixtures.UNSEEN.resolve(caseName));
            assertEquals(Set.of(encode ? "sample" : "latent"), runner.requiredInputs());
            Map<String, Tensor> only = new HashMap<>();
            only.put(encode ? "sample" : "latent", inputs.get(encode ? "sample" : "latent"));
            Path outFile = dir.resolve("out.safetensors");
            loader.writeTensors(outFile, runner.run(only));
            Map<String, Tensor> out = loader.readTensors(outFile);
            String name = encode ? "latent" : "sample";
            double err = maxAbsDiff(out.get(name), inputs.get(name));
            System.out.printf("%s %s via %s: max abs error %.3g%n", component, caseName, executorName, err);
            assertTrue(err <= TOLERANCE, component + " " + caseName + " via " + executorName + ": " + err);
        }
    }

    @Test
    void encodeUntiled() {
        check(VaeComponentRunner.ENCODE, "encode.safetensors", "local");
    }

    @Test
    void decodeUntiled() {
        check(VaeComponentRunner.DECODE, "decode.safetensors", "local");
    }

    @Test
    void encodeTiled() {
        check(VaeComponentRunner.ENCODE, "encode_tiled_32_0.5.safetensors", "tiled");
    }

    @Test
    void decodeTiled() {
        check(VaeComponentRunner.DECODE, "decode_tiled_32_0.5.safetensors", "tiled");
    }

    @Test
    void missingInputIsAClearError() {
        SingleRankContext ctx = new SingleRankContext(DType.FP32, executor("local"), TilingSettings.defaults(false));
        try (PointerScope scope = new PointerScope();
                VaeComponentRunner runner = VaeComponentRunner.open(VaeComponentRunner.DECODE, VaeFixtures.UNSEEN, ctx)) {
            DiffuseException e = assertThrows(DiffuseException.class,
                    () -> runner.run(Map.of("sample", org.bytedeco.pytorch.global.torch.zeros(1, 3, 1, 16, 16))));
            assertTrue(e.getMessage().contains("needs an input tensor named 'latent'"), e.getMessage());
            DiffuseException bad = assertThrows(DiffuseException.class,
                    () -> runner.run(Map.of("latent", org.bytedeco.pytorch.global.torch.zeros(1, 3, 1, 2, 2))));
            assertTrue(bad.getMessage().contains("3 channels"), bad.getMessage());
        }
    }

    @Test
    void providerListsVaeComponentsAndRecognizesAVaeFolder() {
        ModelProvider provider = new HunyuanVideo15ModelProvider();
        assertTrue(provider.components().containsAll(Set.of("vae-encode", "vae-decode")), provider.components().toString());
        assertTrue(provider.recognize(VaeFixtures.UNSEEN.resolve("vae")) == ModelProvider.CERTAIN);
    }

    @Test
    void unknownComponentIsRejected() {
        SingleRankContext ctx = new SingleRankContext(DType.FP32, executor("local"), TilingSettings.defaults(false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> VaeComponentRunner.open("vae", VaeFixtures.UNSEEN, ctx));
        assertTrue(e.getMessage().contains("vae-encode or vae-decode"), e.getMessage());
    }
}
