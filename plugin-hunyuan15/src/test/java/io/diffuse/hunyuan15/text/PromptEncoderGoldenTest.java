package io.diffuse.hunyuan15.text;

import static io.diffuse.hunyuan15.text.EncoderFixtures.caseValue;
import static io.diffuse.hunyuan15.text.EncoderFixtures.longs;
import static io.diffuse.hunyuan15.text.EncoderFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.runtime.DType;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import java.util.Arrays;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The prompt encoders against HF transformers + diffusers' pipeline helpers on tiny random models
 * (tools/reference/gen_encoders.py). fp32 on both sides with the same weights: only summation order
 * differs, so 1e-4 max abs on states of magnitude ~1 is the bound; token ids must be identical.
 */
class PromptEncoderGoldenTest {
    static final double TOLERANCE = 1e-4;
    private static HunyuanPromptEncoder encoder;
    private static Map<String, Tensor> qwen;
    private static Map<String, Tensor> byt5;

    @BeforeAll
    static void load() {
        DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();
        int maxLength = Integer.parseInt(caseValue("max_length"));
        int byt5Max = Integer.parseInt(caseValue("byt5_max_length"));
        encoder = HunyuanPromptEncoder.load(EncoderFixtures.dir().resolve("pipeline"), loader,
                new EncoderOptions(null, null, null, maxLength, byt5Max), DType.FP32, new Device(DeviceType.CPU));
        qwen = loader.readTensors(EncoderFixtures.dir().resolve("qwen.safetensors"));
        byt5 = loader.readTensors(EncoderFixtures.dir().resolve("byt5.safetensors"));
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    @Test
    void cropStartIsComputedAsTheOfficialCode() {
        assertEquals(Integer.parseInt(caseValue("crop_start")), encoder.tokenizer().cropStart());
        assertEquals(477, QwenPromptTokenizer.SYSTEM_MESSAGE.length());
    }

    @Test
    void templateTokensMatchTransformers() {
        int maxLength = Integer.parseInt(caseValue("max_length"));
        for (String tag : new String[] {"", "negative_"}) {
            String prompt = tag.isEmpty() ? caseValue("prompt") : caseValue("negative_prompt");
            QwenPromptTokenizer.Tokens t = encoder.tokenizer().encode(prompt, maxLength);
            assertArrayEquals(longs(qwen.get(tag + "input_ids")), t.inputIds(), tag + "input_ids");
        }
    }

    @Test
    void qwenHiddenStateMinus3MatchesDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> out = encoder.encode(caseValue("prompt"), caseValue("negative_prompt"));
            for (String tag : new String[] {"", "negative_"}) {
                double d = maxAbsDiff(out.get(tag + "prompt_embeds"), qwen.get(tag + "prompt_embeds"));
                assertTrue(d < TOLERANCE, tag + "prompt_embeds max abs diff " + d);
                assertArrayEquals(longs(qwen.get(tag + "prompt_embeds_mask")), longs(out.get(tag + "prompt_embeds_mask")));
            }
            // The negative prompt quotes nothing: zero ByT5 states, empty mask, full width.
            assertEquals(0.0, out.get("negative_prompt_embeds_2").abs().max().item_double());
            assertEquals(0L, Arrays.stream(longs(out.get("negative_prompt_embeds_mask_2"))).sum());
        }
    }

    @Test
    void truncatedPromptMatchesDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] r = encoder.encodeMllm(caseValue("long_prompt"));
            double d = maxAbsDiff(r[0], qwen.get("long_prompt_embeds"));
            assertTrue(d < TOLERANCE, "long prompt max abs diff " + d);
            assertArrayEquals(longs(qwen.get("long_prompt_embeds_mask")), longs(r[1]));
        }
    }

    @Test
    void glyphFormatAndByteTokensMatchTransformers() {
        assertEquals(caseValue("glyph_text"), GlyphPrompt.format(caseValue("glyph_prompt")));
        assertNull(GlyphPrompt.format("no quotes here"));
        assertEquals("Text \"a\". Text \"b\". ", GlyphPrompt.format("say \"a\" then \u201cb\u201d and \"a\""));
        long[][] enc = ByT5Tokenizer.encode(caseValue("glyph_text"), Integer.parseInt(caseValue("byt5_max_length")));
        assertArrayEquals(longs(byt5.get("input_ids")), enc[0]);
    }

    @Test
    void byt5LastHiddenStateMatchesDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            Tensor[] r = encoder.encodeGlyph(caseValue("glyph_prompt"));
            double d = maxAbsDiff(r[0], byt5.get("prompt_embeds_2"));
            assertTrue(d < TOLERANCE, "prompt_embeds_2 max abs diff " + d);
            assertArrayEquals(longs(byt5.get("prompt_embeds_mask_2")), longs(r[1]));
            Tensor[] none = encoder.encodeGlyph("no quotes here");
            assertEquals(0.0, maxAbsDiff(none[0], byt5.get("noquote_prompt_embeds_2")));
            assertArrayEquals(longs(byt5.get("noquote_prompt_embeds_mask_2")), longs(none[1]));
        }
    }
}
