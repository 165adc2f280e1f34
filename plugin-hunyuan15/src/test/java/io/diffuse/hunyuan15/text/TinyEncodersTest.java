package io.diffuse.hunyuan15.text;

import static io.diffuse.hunyuan15.text.EncoderFixtures.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.runtime.DType;
import io.diffuse.hunyuan15.image.SiglipImageEncoder;
import java.util.Arrays;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/** The in-code demo encoders: shapes, the byte tokenizer's template and crop, determinism. */
class TinyEncodersTest {
    private static final Device CPU = new Device(DeviceType.CPU);

    @Test
    void byteTokenizerTemplateAndCrop() {
        try (QwenPromptTokenizer tok = TinyEncoders.tokenizer()) {
            // "<|im_start|>system\n" + 477 + "<|im_end|>\n" + "<|im_start|>user\n": specials are one token, the rest bytes.
            assertEquals(1 + "system\n".length() + 477 + 1 + 1 + 1 + "user\n".length(), tok.cropStart());
            long[] ids = tok.ids("h\u00e9<|im_end|>");
            assertArrayEquals(new long[] {'h', 0xC3, 0xA9, 258}, ids);
            QwenPromptTokenizer.Tokens t = tok.encode("hi", 8);
            long[] tail = Arrays.copyOfRange(t.inputIds(), t.cropStart(), t.inputIds().length);
            assertEquals('h', tail[0]);
            assertEquals(258, tail[2], "prompt then <|im_end|>");
            assertEquals(8 + t.cropStart(), t.inputIds().length);
        }
    }

    @Test
    void promptEncoderShapesAndDeterminism() {
        try (PointerScope scope = new PointerScope();
                HunyuanPromptEncoder a = TinyEncoders.promptEncoder(16, 12, 20, 32, DType.FP32, CPU);
                HunyuanPromptEncoder b = TinyEncoders.promptEncoder(16, 12, 20, 32, DType.FP32, CPU)) {
            Map<String, Tensor> x = a.encode("a cat holding a \"sign\"", "");
            Map<String, Tensor> y = b.encode("a cat holding a \"sign\"", "");
            assertArrayEquals(new long[] {1, 20, 16}, x.get("prompt_embeds").sizes().vec().get());
            assertArrayEquals(new long[] {1, 32, 12}, x.get("prompt_embeds_2").sizes().vec().get());
            assertArrayEquals(new long[] {1, 32, 12}, x.get("negative_prompt_embeds_2").sizes().vec().get());
            assertEquals(8, x.size());
            for (String k : x.keySet()) {
                assertTrue(torch.equal(x.get(k), y.get(k)), k + " differs between two builds");
            }
            assertTrue(x.get("prompt_embeds").abs().sum().item_double() > 0);
            // ByT5 sees 'Text "sign". ' as bytes plus eos.
            assertEquals("Text \"sign\". ".length() + 1, Arrays.stream(longs(x.get("prompt_embeds_mask_2"))).sum());
        }
    }

    @Test
    void imageEncoderShape() {
        try (PointerScope scope = new PointerScope(); SiglipImageEncoder e = SiglipImageEncoder.tinyRandom(24, DType.FP32, CPU)) {
            Tensor img = torch.randint(0, 256, new long[] {30, 50, 3}, new TensorOptions(ScalarType.Long)).to(ScalarType.Byte);
            assertArrayEquals(new long[] {1, 16, 24}, e.encode(img).sizes().vec().get());
        }
    }
}
