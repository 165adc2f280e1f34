package io.diffuse.hunyuan15.text;

import static io.diffuse.hunyuan15.text.EncoderFixtures.caseValue;
import static io.diffuse.hunyuan15.text.EncoderFixtures.longs;
import static io.diffuse.hunyuan15.text.EncoderFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.runtime.DType;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.junit.jupiter.api.Test;

/**
 * The TorchScript route: the fixture's text models traced in Python (torch.jit.trace, saved with
 * torch.jit.save) replace both native encoders and must give diffusers' golden embeddings (1e-4,
 * fp32, same reasoning as the native golden test).
 */
class TorchScriptEncoderTest {
    @Test
    void tracedEncodersReproduceTheGoldenEmbeddings() {
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        Path ts = EncoderFixtures.dir().resolve("torchscript");
        EncoderOptions options = EncoderOptions.fromMap(Map.of("text-encoder.torchscript", ts.resolve("text_encoder.pt").toString(),
                "text-encoder-2.torchscript", ts.resolve("text_encoder_2.pt").toString(), "text-encoder.max-length",
                caseValue("max_length"), "text-encoder-2.max-length", caseValue("byt5_max_length")));
        Map<String, Tensor> qwen = loader.readTensors(EncoderFixtures.dir().resolve("qwen.safetensors"));
        Map<String, Tensor> byt5 = loader.readTensors(EncoderFixtures.dir().resolve("byt5.safetensors"));
        try (PointerScope scope = new PointerScope();
                HunyuanPromptEncoder encoder = HunyuanPromptEncoder.load(EncoderFixtures.dir().resolve("pipeline"), loader, options,
                        DType.FP32, new Device(DeviceType.CPU))) {
            Map<String, Tensor> out = encoder.encode(caseValue("prompt"), caseValue("negative_prompt"));
            for (String tag : new String[] {"", "negative_"}) {
                double d = maxAbsDiff(out.get(tag + "prompt_embeds"), qwen.get(tag + "prompt_embeds"));
                assertTrue(d < 1e-4, tag + "prompt_embeds max abs diff " + d);
                assertArrayEquals(longs(qwen.get(tag + "prompt_embeds_mask")), longs(out.get(tag + "prompt_embeds_mask")));
            }
            Tensor[] glyph = encoder.encodeGlyph(caseValue("glyph_prompt"));
            double d = maxAbsDiff(glyph[0], byt5.get("prompt_embeds_2"));
            assertTrue(d < 1e-4, "prompt_embeds_2 max abs diff " + d);
            // No quotes: zeros of the width the module reported at load.
            assertEquals(byt5.get("noquote_prompt_embeds_2").size(2), encoder.encodeGlyph("plain")[0].size(2));
        }
    }

    @Test
    void missingModuleIsAClearError() {
        DiffuseException e = assertThrows(DiffuseException.class, () -> TorchScriptEncoder.load(Path.of("/nonexistent/te.pt"),
                new Device(DeviceType.CPU), org.bytedeco.pytorch.global.torch.ScalarType.Float));
        assertTrue(e.getMessage().contains("/nonexistent/te.pt"), e.getMessage());
    }
}
