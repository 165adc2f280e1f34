package io.diffuse.hunyuan15.image;

import io.diffuse.api.DiffuseException;
import java.util.HashMap;
import java.util.Map;

/** The fields of transformers' SiglipVisionConfig the vision tower uses. */
public record SiglipVisionConfig(int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
        int numChannels, int imageSize, int patchSize, double layerNormEps, String hiddenAct, boolean visionUseHead) {

    /** Checks the shape constraints. */
    public SiglipVisionConfig {
        if (hiddenSize % numAttentionHeads != 0 || imageSize % patchSize != 0) {
            throw new DiffuseException("SigLIP config: hidden_size " + hiddenSize + " must divide by num_attention_heads "
                    + numAttentionHeads + " and image_size " + imageSize + " by patch_size " + patchSize);
        }
        if (!hiddenAct.equals("gelu_pytorch_tanh") && !hiddenAct.equals("gelu") && !hiddenAct.equals("gelu_new")) {
            throw new DiffuseException("SigLIP config: hidden_act '" + hiddenAct + "' is not supported (gelu_pytorch_tanh, gelu)");
        }
    }

    /** Number of patch tokens, (image_size / patch_size)^2. */
    public int numPatches() {
        int side = imageSize / patchSize;
        return side * side;
    }

    /** Reads config.json; a full SiglipConfig is accepted through its vision_config. */
    @SuppressWarnings("unchecked")
    public static SiglipVisionConfig fromMap(Map<String, Object> raw) {
        Map<String, Object> c = new HashMap<>(raw);
        if (raw.get("vision_config") instanceof Map<?, ?> v) {
            c.putAll((Map<String, Object>) v);
        }
        String f = "image_encoder/config.json";
        return new SiglipVisionConfig(num(c, "hidden_size", 768, f), num(c, "intermediate_size", 3072, f),
                num(c, "num_hidden_layers", 12, f), num(c, "num_attention_heads", 12, f), num(c, "num_channels", 3, f),
                num(c, "image_size", 224, f), num(c, "patch_size", 16, f),
                c.get("layer_norm_eps") instanceof Number n ? n.doubleValue() : 1e-6,
                c.get("hidden_act") instanceof String s ? s : "gelu_pytorch_tanh",
                !(c.get("vision_use_head") instanceof Boolean b) || b);
    }

    private static int num(Map<String, Object> c, String key, int dflt, String file) {
        Object v = c.getOrDefault(key, dflt);
        if (!(v instanceof Number n)) {
            throw new DiffuseException(file + ": '" + key + "' must be a number, found " + v);
        }
        return n.intValue();
    }
}
