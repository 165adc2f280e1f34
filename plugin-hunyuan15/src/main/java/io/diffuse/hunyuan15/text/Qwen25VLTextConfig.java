package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The fields of transformers' Qwen2_5_VLTextConfig the text path uses. Accepts either the text
 * config itself or a full Qwen2_5_VLConfig (then {@code text_config} is read, falling back to the top
 * level as older checkpoints keep the text fields there).
 */
public record Qwen25VLTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
        int numAttentionHeads, int numKeyValueHeads, double rmsNormEps, double ropeTheta, List<Integer> mropeSection) {

    /** Checks the shape constraints; the error names the offending fields. */
    public Qwen25VLTextConfig {
        if (numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0) {
            throw new DiffuseException("Qwen2.5-VL config: hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + numAttentionHeads);
        }
        if (numKeyValueHeads <= 0 || numAttentionHeads % numKeyValueHeads != 0) {
            throw new DiffuseException("Qwen2.5-VL config: num_attention_heads " + numAttentionHeads
                    + " is not a multiple of num_key_value_heads " + numKeyValueHeads);
        }
        int half = hiddenSize / numAttentionHeads / 2;
        int sum = mropeSection.stream().mapToInt(Integer::intValue).sum();
        if (!mropeSection.isEmpty() && sum != half) {
            // For text, all three M-RoPE position rows are equal, so the sections only pick which row each
            // frequency comes from; that is 1-D RoPE only if the sections cover head_dim/2 exactly.
            throw new DiffuseException("Qwen2.5-VL config: mrope_section " + mropeSection + " sums to " + sum
                    + ", expected head_dim/2 = " + half);
        }
    }

    /** Head dimension = hidden_size / num_attention_heads. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Reads config.json (as nested maps). */
    public static Qwen25VLTextConfig fromMap(Map<String, Object> raw) {
        Map<String, Object> c = new HashMap<>(raw);
        c.putAll(EncoderOps.mapOr(raw, "text_config"));
        Map<String, Object> rope = new HashMap<>(EncoderOps.mapOr(c, "rope_scaling"));
        rope.putAll(EncoderOps.mapOr(c, "rope_parameters"));
        String f = "text_encoder/config.json";
        int heads = EncoderOps.intOf(c, "num_attention_heads", f);
        List<Integer> section = EncoderOps.listOr(rope, "mrope_section").stream().map(o -> ((Number) o).intValue()).toList();
        double theta = rope.get("rope_theta") instanceof Number n ? n.doubleValue() : EncoderOps.doubleOr(c, "rope_theta", 1_000_000.0);
        return new Qwen25VLTextConfig(EncoderOps.intOf(c, "vocab_size", f), EncoderOps.intOf(c, "hidden_size", f),
                EncoderOps.intOf(c, "intermediate_size", f), EncoderOps.intOf(c, "num_hidden_layers", f), heads,
                EncoderOps.intOr(c, "num_key_value_heads", heads), EncoderOps.doubleOr(c, "rms_norm_eps", 1e-6), theta, section);
    }

    /** config.json content for this configuration (used for in-code models). */
    public Map<String, Object> toMap() {
        return Map.of("model_type", "qwen2_5_vl_text", "vocab_size", vocabSize, "hidden_size", hiddenSize,
                "intermediate_size", intermediateSize, "num_hidden_layers", numHiddenLayers, "num_attention_heads",
                numAttentionHeads, "num_key_value_heads", numKeyValueHeads, "rms_norm_eps", rmsNormEps,
                "rope_parameters", Map.of("rope_theta", ropeTheta, "mrope_section", mropeSection, "rope_type", "default"));
    }
}
