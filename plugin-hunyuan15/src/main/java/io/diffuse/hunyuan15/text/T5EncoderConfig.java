package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import java.util.Map;

/** The fields of transformers' T5Config an encoder-only T5 (ByT5) uses. */
public record T5EncoderConfig(int vocabSize, int dModel, int dKv, int dFf, int numLayers, int numHeads,
        int relativeAttentionNumBuckets, int relativeAttentionMaxDistance, double layerNormEpsilon, String feedForwardProj) {

    /** Checks the activation name. */
    public T5EncoderConfig {
        String act = activation(feedForwardProj);
        if (!act.equals("gelu_new") && !act.equals("relu") && !act.equals("gelu")) {
            throw new DiffuseException("T5 config: feed_forward_proj '" + feedForwardProj
                    + "' is not supported; use relu, gated-gelu, gelu or gated-relu");
        }
    }

    /** True for the gated feed-forward (wi_0, wi_1). */
    public boolean gated() {
        return feedForwardProj.startsWith("gated-");
    }

    /** The activation's transformers name; "gated-gelu" maps to gelu_new (tanh approximation) as transformers does. */
    public String activation() {
        return activation(feedForwardProj);
    }

    private static String activation(String proj) {
        String act = proj.startsWith("gated-") ? proj.substring(6) : proj;
        return proj.equals("gated-gelu") ? "gelu_new" : act;
    }

    /** Reads config.json (as nested maps). */
    public static T5EncoderConfig fromMap(Map<String, Object> c) {
        String f = "text_encoder_2/config.json";
        int dModel = EncoderOps.intOf(c, "d_model", f);
        return new T5EncoderConfig(EncoderOps.intOf(c, "vocab_size", f), dModel, EncoderOps.intOf(c, "d_kv", f),
                EncoderOps.intOf(c, "d_ff", f), EncoderOps.intOf(c, "num_layers", f), EncoderOps.intOf(c, "num_heads", f),
                EncoderOps.intOr(c, "relative_attention_num_buckets", 32), EncoderOps.intOr(c, "relative_attention_max_distance", 128),
                EncoderOps.doubleOr(c, "layer_norm_epsilon", 1e-6), EncoderOps.stringOr(c, "feed_forward_proj", "relu"));
    }
}
