package io.diffuse.hunyuan15.transformer;

import io.diffuse.api.DiffuseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The config.json of diffusers' HunyuanVideo15Transformer3DModel. Defaults are the released values
 * (8.3B parameters). {@code byt5ProjectionDim} is not a diffusers field: diffusers hard-codes 2048;
 * small test models set {@code byt5_projection_dim} to shrink that layer.
 */
public record HunyuanVideo15TransformerConfig(int inChannels, int outChannels, int numAttentionHeads, int attentionHeadDim,
        int numLayers, int numRefinerLayers, double mlpRatio, int patchSize, int patchSizeT, String qkNorm,
        int textEmbedDim, int textEmbed2Dim, int imageEmbedDim, double ropeTheta, int[] ropeAxesDim,
        boolean useMeanflow, int byt5ProjectionDim) {

    /** Width of the sinusoidal timestep projection (diffusers' Timesteps(256, ...)). */
    public static final int TIMESTEP_CHANNELS = 256;
    /** The refiner's FeedForward ratio: diffusers builds the token refiner with its default 4.0, not mlp_ratio. */
    public static final double REFINER_MLP_RATIO = 4.0;

    public HunyuanVideo15TransformerConfig {
        // The fields are assigned after this body, so the checks name the parameters (a describe() of the
        // fields here would read zeros).
        atLeast("num_attention_heads", numAttentionHeads, 1);
        atLeast("attention_head_dim", attentionHeadDim, 1);
        atLeast("num_layers", numLayers, 0);
        atLeast("num_refiner_layers", numRefinerLayers, 0);
        atLeast("in_channels", inChannels, 1);
        atLeast("out_channels", outChannels, 1);
        atLeast("patch_size", patchSize, 1);
        atLeast("patch_size_t", patchSizeT, 1);
        atLeast("byt5_projection_dim", byt5ProjectionDim, 1);
        if (!"rms_norm".equals(qkNorm)) {
            throw new DiffuseException("transformer config qk_norm='" + qkNorm + "' is not supported; HunyuanVideo 1.5 uses 'rms_norm'");
        }
        if (ropeAxesDim.length != 3) {
            throw new DiffuseException("transformer config rope_axes_dim must have 3 entries (t, h, w), has " + ropeAxesDim.length);
        }
        int sum = 0;
        for (int d : ropeAxesDim) {
            if (d <= 0 || d % 2 != 0) {
                throw new DiffuseException("transformer config rope_axes_dim entries must be positive and even: "
                        + java.util.Arrays.toString(ropeAxesDim));
            }
            sum += d;
        }
        if (sum != attentionHeadDim) {
            throw new DiffuseException("transformer config rope_axes_dim " + java.util.Arrays.toString(ropeAxesDim)
                    + " sums to " + sum + " but attention_head_dim is " + attentionHeadDim);
        }
    }

    /** The released configuration (diffusers defaults). */
    public static HunyuanVideo15TransformerConfig released() {
        return fromMap(Map.of());
    }

    /** Reads a parsed config.json; absent fields take diffusers' defaults. */
    public static HunyuanVideo15TransformerConfig fromMap(Map<String, Object> c) {
        int[] rope = intList(c, "rope_axes_dim", new int[] {16, 56, 56});
        Object outChannels = c.get("out_channels");
        int in = intField(c, "in_channels", 65);
        return new HunyuanVideo15TransformerConfig(in, outChannels == null ? 32 : intField(c, "out_channels", 32),
                intField(c, "num_attention_heads", 16), intField(c, "attention_head_dim", 128), intField(c, "num_layers", 54),
                intField(c, "num_refiner_layers", 2), doubleField(c, "mlp_ratio", 4.0), intField(c, "patch_size", 1),
                intField(c, "patch_size_t", 1), stringField(c, "qk_norm", "rms_norm"), intField(c, "text_embed_dim", 3584),
                intField(c, "text_embed_2_dim", 1472), intField(c, "image_embed_dim", 1152), doubleField(c, "rope_theta", 256.0),
                rope, boolField(c, "use_meanflow", false), intField(c, "byt5_projection_dim", 2048));
    }

    /** inner_dim = heads x head dim. */
    public int hiddenSize() {
        return numAttentionHeads * attentionHeadDim;
    }

    /** The FeedForward width of the dual-stream blocks, {@code int(dim * mlp_ratio)} as diffusers computes it. */
    public int mlpHidden() {
        return (int) (hiddenSize() * mlpRatio);
    }

    /** Every tensor of the checkpoint with its shape, named as diffusers names them. */
    public Map<String, long[]> expectedShapes() {
        long d = hiddenSize();
        long f = mlpHidden();
        long rf = (long) (d * REFINER_MLP_RATIO);
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("x_embedder.proj.weight", new long[] {d, inChannels, patchSizeT, patchSize, patchSize});
        m.put("x_embedder.proj.bias", new long[] {d});
        linear(m, "context_embedder.time_text_embed.timestep_embedder.linear_1", TIMESTEP_CHANNELS, d);
        linear(m, "context_embedder.time_text_embed.timestep_embedder.linear_2", d, d);
        linear(m, "context_embedder.time_text_embed.text_embedder.linear_1", textEmbedDim, d);
        linear(m, "context_embedder.time_text_embed.text_embedder.linear_2", d, d);
        linear(m, "context_embedder.proj_in", textEmbedDim, d);
        for (int i = 0; i < numRefinerLayers; i++) {
            String p = "context_embedder.token_refiner.refiner_blocks." + i + ".";
            norm(m, p + "norm1", d);
            for (String proj : List.of("to_q", "to_k", "to_v", "to_out.0")) {
                linear(m, p + "attn." + proj, d, d);
            }
            norm(m, p + "norm2", d);
            linear(m, p + "ff.net.0.proj", d, rf);
            linear(m, p + "ff.net.2", rf, d);
            linear(m, p + "norm_out.linear", d, 2 * d);
        }
        norm(m, "context_embedder_2.norm", textEmbed2Dim);
        linear(m, "context_embedder_2.linear_1", textEmbed2Dim, byt5ProjectionDim);
        linear(m, "context_embedder_2.linear_2", byt5ProjectionDim, byt5ProjectionDim);
        linear(m, "context_embedder_2.linear_3", byt5ProjectionDim, d);
        norm(m, "image_embedder.norm_in", imageEmbedDim);
        linear(m, "image_embedder.linear_1", imageEmbedDim, imageEmbedDim);
        linear(m, "image_embedder.linear_2", imageEmbedDim, d);
        norm(m, "image_embedder.norm_out", d);
        linear(m, "time_embed.timestep_embedder.linear_1", TIMESTEP_CHANNELS, d);
        linear(m, "time_embed.timestep_embedder.linear_2", d, d);
        if (useMeanflow) {
            linear(m, "time_embed.timestep_embedder_r.linear_1", TIMESTEP_CHANNELS, d);
            linear(m, "time_embed.timestep_embedder_r.linear_2", d, d);
        }
        m.put("cond_type_embed.weight", new long[] {3, d});
        for (int i = 0; i < numLayers; i++) {
            String p = "transformer_blocks." + i + ".";
            linear(m, p + "norm1.linear", d, 6 * d);
            linear(m, p + "norm1_context.linear", d, 6 * d);
            for (String proj : List.of("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0", "to_add_out")) {
                linear(m, p + "attn." + proj, d, d);
            }
            for (String n : List.of("norm_q", "norm_k", "norm_added_q", "norm_added_k")) {
                m.put(p + "attn." + n + ".weight", new long[] {attentionHeadDim});
            }
            for (String ff : List.of("ff", "ff_context")) {
                linear(m, p + ff + ".net.0.proj", d, f);
                linear(m, p + ff + ".net.2", f, d);
            }
        }
        linear(m, "norm_out.linear", d, 2 * d);
        linear(m, "proj_out", d, (long) patchSizeT * patchSize * patchSize * outChannels);
        return m;
    }

    /** Total parameter count of {@link #expectedShapes()}. */
    public long parameterCount() {
        long n = 0;
        for (long[] s : expectedShapes().values()) {
            long k = 1;
            for (long x : s) {
                k *= x;
            }
            n += k;
        }
        return n;
    }

    private static void linear(Map<String, long[]> m, String name, long in, long out) {
        m.put(name + ".weight", new long[] {out, in});
        m.put(name + ".bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> m, String name, long dim) {
        m.put(name + ".weight", new long[] {dim});
        m.put(name + ".bias", new long[] {dim});
    }

    private static void atLeast(String key, int value, int min) {
        if (value < min) {
            throw new DiffuseException("invalid transformer config: " + key + " is " + value + "; it must be " + min
                    + " or more");
        }
    }

    private static Object value(Map<String, Object> c, String key) {
        Object v = c.get(key);
        return v;
    }

    private static int intField(Map<String, Object> c, String key, int dflt) {
        Object v = value(c, key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            return n.intValue();
        }
        throw new DiffuseException("transformer config.json field '" + key + "' must be an integer, got " + v);
    }

    private static double doubleField(Map<String, Object> c, String key, double dflt) {
        Object v = value(c, key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new DiffuseException("transformer config.json field '" + key + "' must be a number, got " + v);
    }

    private static boolean boolField(Map<String, Object> c, String key, boolean dflt) {
        Object v = value(c, key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new DiffuseException("transformer config.json field '" + key + "' must be true or false, got " + v);
    }

    private static String stringField(Map<String, Object> c, String key, String dflt) {
        Object v = value(c, key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof String s) {
            return s;
        }
        throw new DiffuseException("transformer config.json field '" + key + "' must be a string, got " + v);
    }

    private static int[] intList(Map<String, Object> c, String key, int[] dflt) {
        Object v = value(c, key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof List<?> list) {
            int[] out = new int[list.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(list.get(i) instanceof Number n)) {
                    throw new DiffuseException("transformer config.json field '" + key + "' must list integers, got " + v);
                }
                out[i] = n.intValue();
            }
            return out;
        }
        throw new DiffuseException("transformer config.json field '" + key + "' must be a list of integers, got " + v);
    }
}
