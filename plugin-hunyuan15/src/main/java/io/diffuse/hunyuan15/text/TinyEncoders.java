package io.diffuse.hunyuan15.text;

import io.diffuse.api.runtime.DType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Tiny random-weight prompt encoders made in code, for the built-in demo and tests: deterministic
 * (java.util.Random with a fixed seed, so torch's global generator is untouched) and needing no
 * downloaded file. The tokenizer is a byte-level BPE without merges (one token per UTF-8 byte, as
 * GPT-2/Qwen's byte alphabet) plus Qwen's special tokens, written as tokenizer.json and read by the
 * same HF tokenizers library as real checkpoints. Demo weights give meaningless embeddings.
 */
public final class TinyEncoders {
    /** The seed every factory uses. */
    public static final long SEED = 1_234_567L;
    /** Specials after the 256 byte tokens: ids 256, 257, 258. */
    public static final List<String> SPECIAL_TOKENS = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>");

    private TinyEncoders() {
    }

    /** tokenizer.json of the byte-level tokenizer (ids 0..255 = bytes, then {@link #SPECIAL_TOKENS}). */
    public static String byteLevelTokenizerJson() {
        int[] byteToChar = bytesToUnicode();
        StringBuilder vocab = new StringBuilder();
        for (int b = 0; b < 256; b++) {
            vocab.append(b == 0 ? "" : ",").append('"').append(String.format("\\u%04x", byteToChar[b])).append("\":").append(b);
        }
        StringBuilder added = new StringBuilder();
        for (int i = 0; i < SPECIAL_TOKENS.size(); i++) {
            added.append(i == 0 ? "" : ",").append("{\"id\":").append(256 + i).append(",\"content\":\"").append(SPECIAL_TOKENS.get(i))
                    .append("\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}");
        }
        String byteLevel = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":true}";
        return "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[" + added + "],"
                + "\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":" + byteLevel + ",\"post_processor\":null,\"decoder\":" + byteLevel
                + ",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,"
                + "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,"
                + "\"vocab\":{" + vocab + "},\"merges\":[]}}";
    }

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n. */
    private static int[] bytesToUnicode() {
        int[] map = new int[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? b : 256 + n++;
        }
        return map;
    }

    /** The byte-level tokenizer with pad token &lt;|endoftext|&gt;. */
    public static QwenPromptTokenizer tokenizer() {
        return QwenPromptTokenizer.fromJson(byteLevelTokenizerJson(), SPECIAL_TOKENS.get(0));
    }

    /** Qwen2.5-VL text config: 3 layers (hidden_states[-3] runs one), 2 heads over 1 KV head (GQA). */
    public static Qwen25VLTextConfig qwenConfig(int hiddenSize) {
        return new Qwen25VLTextConfig(256 + SPECIAL_TOKENS.size(), hiddenSize, 2 * hiddenSize, 3, 2, 1, 1e-6, 1_000_000.0, List.of());
    }

    /** ByT5-like T5 encoder config: 2 layers, 2 heads, gated GELU. */
    public static T5EncoderConfig byt5Config(int dModel) {
        return new T5EncoderConfig(384, dModel, dModel / 2, 2 * dModel, 2, 2, 32, 128, 1e-6, "gated-gelu");
    }

    /** Random fp32 parameters for {@code shapes}, in the current scope: N(0, 1/fan_in), norm weights 1 + N(0, 0.1), biases N(0, 0.1). */
    public static Map<String, Tensor> randomParams(Map<String, long[]> shapes, long seed) {
        Random random = new Random(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] shape = e.getValue();
            int n = 1;
            for (long s : shape) {
                n *= (int) s;
            }
            boolean norm = e.getKey().contains("norm") && e.getKey().endsWith("weight");
            double scale = shape.length >= 2 ? 1.0 / Math.sqrt(shape[shape.length - 1]) : 0.1;
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) ((norm ? 1.0 : 0.0) + random.nextGaussian() * scale);
            }
            Tensor t = torch.zeros(shape, new TensorOptions(ScalarType.Float));
            new FloatPointer(t.data_ptr()).capacity(n).put(v);
            out.put(e.getKey(), t);
        }
        return out;
    }

    /** A tiny random Qwen2.5-VL text model of width {@code hiddenSize} (even, divisible by 2 heads). */
    public static Qwen25VLTextModel qwen(int hiddenSize, DType dtype, Device device) {
        Qwen25VLTextConfig c = qwenConfig(hiddenSize);
        try (PointerScope scope = new PointerScope()) {
            return Qwen25VLTextModel.of(c, randomParams(Qwen25VLTextModel.expectedShapes(c), SEED), dtype, device);
        }
    }

    /** A tiny random ByT5 encoder of width {@code dModel} (even). */
    public static T5EncoderModel byt5(int dModel, DType dtype, Device device) {
        T5EncoderConfig c = byt5Config(dModel);
        try (PointerScope scope = new PointerScope()) {
            return T5EncoderModel.of(c, randomParams(T5EncoderModel.expectedShapes(c), SEED + 1), dtype, device);
        }
    }

    /**
     * The whole prompt encoder made in code: prompt_embeds width {@code qwenHidden}, prompt_embeds_2
     * width {@code byt5Hidden}, {@code maxLength} / {@code byt5MaxLength} tokens.
     */
    public static HunyuanPromptEncoder promptEncoder(int qwenHidden, int byt5Hidden, int maxLength, int byt5MaxLength,
            DType dtype, Device device) {
        return new HunyuanPromptEncoder(tokenizer(), qwen(qwenHidden, dtype, device), byt5(byt5Hidden, dtype, device), maxLength,
                byt5MaxLength, dtype, device);
    }
}
