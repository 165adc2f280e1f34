package io.diffuse.hunyuan15.image;

import static io.diffuse.hunyuan15.text.EncoderFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.runtime.DType;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.hunyuan15.text.EncoderFixtures;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SigLIP preprocessing and vision tower against transformers (SiglipImageProcessor, PIL backend, and
 * SiglipVisionModel) on a tiny random model. The resize re-implements Pillow's fixed-point bicubic, so
 * the pixel tensor must match to float rounding (1e-6); the states to 1e-4 (fp32, summation order).
 */
class SiglipGoldenTest {
    private static SiglipImageEncoder encoder;
    private static Map<String, Tensor> golden;

    @BeforeAll
    static void load() {
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        encoder = SiglipImageEncoder.load(EncoderFixtures.dir().resolve("pipeline"), loader, null, DType.FP32,
                new Device(DeviceType.CPU));
        golden = loader.readTensors(EncoderFixtures.dir().resolve("siglip.safetensors"));
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    @Test
    void preprocessingMatchesPil() {
        try (PointerScope scope = new PointerScope()) {
            double d = maxAbsDiff(encoder.processor().preprocess(golden.get("image")), golden.get("pixel_values"));
            assertTrue(d < 1e-6, "pixel_values max abs diff " + d);
        }
    }

    @Test
    void lastHiddenStateMatchesTransformers() {
        try (PointerScope scope = new PointerScope()) {
            double d = maxAbsDiff(encoder.encodePixels(golden.get("pixel_values")), golden.get("last_hidden_state"));
            assertTrue(d < 1e-4, "last_hidden_state max abs diff " + d);
            double e2e = maxAbsDiff(encoder.encode(golden.get("image")), golden.get("last_hidden_state"));
            assertTrue(e2e < 1e-4, "image -> image_embeds max abs diff " + e2e);
        }
    }
}
