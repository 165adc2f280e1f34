package io.diffuse.hunyuan15.vae;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.vae.TilingSettings;
import java.nio.file.Path;
import org.bytedeco.pytorch.Tensor;

/** Where the golden fixtures of tools/reference/gen_vae.py live, and how to read them. */
final class VaeFixtures {
    /** Tiny VAE "A" (vae component folder) and its cases. */
    static final Path VAE = Path.of("src/test/resources/fixtures/vae");
    /** Tiny VAE "B" (a pipeline root) used only by the never-seen run-component test. */
    static final Path UNSEEN = Path.of("src/test/resources/fixtures/vae-unseen");

    private VaeFixtures() {
    }

    static CheckpointLoader loader() {
        return new io.diffuse.core.checkpoint.DiffusersCheckpointLoader();
    }

    /** Tiling of a case file named {@code <direction>_tiled_<px>_<overlap>.safetensors}; disabled otherwise. */
    static TilingSettings tilingOf(String caseName) {
        String[] parts = caseName.replace(".safetensors", "").split("_");
        if (parts.length == 4 && parts[1].equals("tiled")) {
            return new TilingSettings(true, Integer.parseInt(parts[2]), Double.parseDouble(parts[3]));
        }
        return TilingSettings.defaults(false);
    }

    /** Largest absolute difference; shapes must match. */
    static double maxAbsDiff(Tensor actual, Tensor expected) {
        if (!java.util.Arrays.equals(actual.sizes().vec().get(), expected.sizes().vec().get())) {
            throw new AssertionError("shape " + java.util.Arrays.toString(actual.sizes().vec().get()) + " != expected "
                    + java.util.Arrays.toString(expected.sizes().vec().get()));
        }
        // On the CPU: results may come from another device (-Ddiffuse.test.device), fixtures are read there.
        return actual.to(new org.bytedeco.pytorch.Device("cpu"), org.bytedeco.pytorch.global.torch.ScalarType.Float)
                .sub(expected.to(new org.bytedeco.pytorch.Device("cpu"), org.bytedeco.pytorch.global.torch.ScalarType.Float)).abs().max().item_double();
    }
}
