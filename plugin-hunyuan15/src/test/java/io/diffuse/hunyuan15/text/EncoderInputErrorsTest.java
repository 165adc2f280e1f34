package io.diffuse.hunyuan15.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.runtime.DType;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad inputs give errors that name what is wrong. */
class EncoderInputErrorsTest {
    @Test
    void missingTokenizerJsonNamesTheFile(@TempDir Path dir) {
        DiffuseException e = assertThrows(DiffuseException.class, () -> QwenPromptTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }

    @Test
    void textEncoderOfTheWrongShapeFailsVerification(@TempDir Path root) throws Exception {
        // The fixture's Qwen weights under a config that claims a wider MLP.
        Path src = EncoderFixtures.dir().resolve("pipeline");
        Path te = Files.createDirectories(root.resolve("text_encoder"));
        Files.copy(src.resolve("text_encoder/model.safetensors"), te.resolve("model.safetensors"));
        Files.writeString(te.resolve("config.json"), Files.readString(src.resolve("text_encoder/config.json"))
                .replace("\"intermediate_size\": 16", "\"intermediate_size\": 24"));
        Files.writeString(root.resolve("model_index.json"), "{}");
        Path tok = Files.createDirectories(root.resolve("tokenizer"));
        Files.copy(src.resolve("tokenizer/tokenizer.json"), tok.resolve("tokenizer.json"));
        DiffuseException e = assertThrows(DiffuseException.class, () -> HunyuanPromptEncoder.load(root, new DiffusersCheckpointLoader(),
                EncoderOptions.DEFAULTS, DType.FP32, new Device(DeviceType.CPU)));
        assertTrue(e.getMessage().contains("mlp.gate_proj.weight"), e.getMessage());
    }

    @Test
    void configErrorsNameTheField() {
        assertThrows(DiffuseException.class, () -> new Qwen25VLTextConfig(10, 16, 16, 4, 2, 1, 1e-6, 1e6, List.of(1, 1, 1)));
        assertThrows(DiffuseException.class, () -> EncoderOptions.fromMap(Map.of("text-encoder.max-length", "many")));
        assertEquals(null, GlyphPrompt.format("\"broken\nquote\""));
    }
}
