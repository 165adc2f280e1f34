package io.diffuse.hunyuan15.image;

import static io.diffuse.hunyuan15.text.EncoderOps.layerNorm;
import static io.diffuse.hunyuan15.text.EncoderOps.linear;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import io.diffuse.hunyuan15.text.EncoderWeights;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' SiglipVisionModel up to last_hidden_state: patch-embedding conv, learned position
 * embeddings, pre-norm encoder layers (LayerNorm, attention, LayerNorm, MLP) and post_layernorm. The
 * pooling head's tensors are verified but not loaded (HunyuanVideo 1.5 takes the token states).
 */
public final class SiglipVisionModel implements AutoCloseable {
    private final SiglipVisionConfig config;
    private final EncoderWeights w;
    private final Device device;

    private SiglipVisionModel(SiglipVisionConfig config, EncoderWeights w, Device device) {
        this.config = config;
        this.w = w;
        this.device = device;
    }

    /** The configuration. */
    public SiglipVisionConfig config() {
        return config;
    }

    /** Expected parameter names and shapes, relative to the vision_model prefix. */
    public static Map<String, long[]> expectedShapes(SiglipVisionConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long i = c.intermediateSize();
        m.put("embeddings.patch_embedding.weight", new long[] {d, c.numChannels(), c.patchSize(), c.patchSize()});
        m.put("embeddings.patch_embedding.bias", new long[] {d});
        m.put("embeddings.position_embedding.weight", new long[] {c.numPatches(), d});
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "encoder.layers." + l + ".";
            for (String n : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
                m.put(p + "self_attn." + n + ".weight", new long[] {d, d});
                m.put(p + "self_attn." + n + ".bias", new long[] {d});
            }
            for (String n : new String[] {"layer_norm1", "layer_norm2"}) {
                m.put(p + n + ".weight", new long[] {d});
                m.put(p + n + ".bias", new long[] {d});
            }
            m.put(p + "mlp.fc1.weight", new long[] {i, d});
            m.put(p + "mlp.fc1.bias", new long[] {i});
            m.put(p + "mlp.fc2.weight", new long[] {d, i});
            m.put(p + "mlp.fc2.bias", new long[] {d});
        }
        m.put("post_layernorm.weight", new long[] {d});
        m.put("post_layernorm.bias", new long[] {d});
        if (c.visionUseHead()) {
            m.put("head.probe", new long[] {1, 1, d});
            m.put("head.attention.in_proj_weight", new long[] {3 * d, d});
            m.put("head.attention.in_proj_bias", new long[] {3 * d});
            m.put("head.attention.out_proj.weight", new long[] {d, d});
            m.put("head.attention.out_proj.bias", new long[] {d});
            m.put("head.layernorm.weight", new long[] {d});
            m.put("head.layernorm.bias", new long[] {d});
            m.put("head.mlp.fc1.weight", new long[] {i, d});
            m.put("head.mlp.fc1.bias", new long[] {i});
            m.put("head.mlp.fc2.weight", new long[] {d, i});
            m.put("head.mlp.fc2.bias", new long[] {d});
        }
        return m;
    }

    /** Loads a transformers SiglipVisionModel folder (keys with or without the "vision_model." prefix). */
    public static SiglipVisionModel load(Checkpoint checkpoint, DType dtype, Device device) {
        SiglipVisionConfig c = SiglipVisionConfig.fromMap(checkpoint.config());
        String prefix = checkpoint.keys().contains("vision_model.post_layernorm.weight") ? "vision_model." : "";
        EncoderWeights w = EncoderWeights.load(checkpoint, prefix, expectedShapes(c), k -> !k.startsWith("head."), dtype, device);
        return new SiglipVisionModel(c, w, device);
    }

    /** A model over parameters made in code (names as {@link #expectedShapes}, head optional). */
    public static SiglipVisionModel of(SiglipVisionConfig c, Map<String, Tensor> params, DType dtype, Device device) {
        return new SiglipVisionModel(c, EncoderWeights.of(params, dtype, device), device);
    }

    /** last_hidden_state (B, num_patches, hidden) of pixel_values (B, C, image_size, image_size). */
    public Tensor forward(Tensor pixelValues) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor wPatch = w.get("embeddings.patch_embedding.weight");
            Tensor px = pixelValues.to(device, wPatch.scalar_type());
            long p = config.patchSize();
            // (B, C, S, S) -> (B, D, S/p, S/p) -> (B, N, D)
            Tensor x = DeviceOps.conv(px, wPatch, w.get("embeddings.patch_embedding.bias"), new long[] {p, p}, new long[] {0, 0})
                    .flatten(2, -1).transpose(1, 2);
            Tensor ids = DeviceOps.arange(config.numPatches(), ScalarType.Long, device);
            x = x.add(DeviceOps.embedding(w.get("embeddings.position_embedding.weight"), ids).unsqueeze(0));
            double eps = config.layerNormEps();
            for (int l = 0; l < config.numHiddenLayers(); l++) {
                String pre = "encoder.layers." + l + ".";
                Tensor h = layerNorm(x, w.get(pre + "layer_norm1.weight"), w.get(pre + "layer_norm1.bias"), eps);
                x = x.add(attention(h, pre + "self_attn."));
                h = layerNorm(x, w.get(pre + "layer_norm2.weight"), w.get(pre + "layer_norm2.bias"), eps);
                h = linear(h, w.get(pre + "mlp.fc1.weight"), w.get(pre + "mlp.fc1.bias"));
                h = config.hiddenAct().equals("gelu") ? torch.gelu(h) : torch.gelu(h, "tanh");
                x = x.add(linear(h, w.get(pre + "mlp.fc2.weight"), w.get(pre + "mlp.fc2.bias")));
            }
            x = layerNorm(x, w.get("post_layernorm.weight"), w.get("post_layernorm.bias"), eps);
            if (outer != null) {
                outer.attach(x);
            } else {
                x.retainReference();
            }
            return x;
        }
    }

    private Tensor attention(Tensor h, String p) {
        long b = h.size(0);
        long n = h.size(1);
        int heads = config.numAttentionHeads();
        long hd = config.hiddenSize() / heads;
        // (B, N, D) -> (B, H, N, hd)
        Tensor q = linear(h, w.get(p + "q_proj.weight"), w.get(p + "q_proj.bias")).view(b, n, heads, hd).transpose(1, 2);
        Tensor k = linear(h, w.get(p + "k_proj.weight"), w.get(p + "k_proj.bias")).view(b, n, heads, hd).transpose(1, 2);
        Tensor v = linear(h, w.get(p + "v_proj.weight"), w.get(p + "v_proj.bias")).view(b, n, heads, hd).transpose(1, 2);
        Tensor a = DeviceOps.attention(q, k, v, null, 1.0 / Math.sqrt(hd));
        return linear(a.transpose(1, 2).reshape(b, n, config.hiddenSize()), w.get(p + "out_proj.weight"), w.get(p + "out_proj.bias"));
    }

    @Override
    public void close() {
        w.close();
    }
}
