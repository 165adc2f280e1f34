package io.diffuse.hunyuan15.text;

import static io.diffuse.hunyuan15.text.EncoderOps.linear;
import static io.diffuse.hunyuan15.text.EncoderOps.rmsNorm;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * The text path of Qwen2.5-VL (transformers' Qwen2_5_VLTextModel): token embedding, decoder layers
 * with grouped-query attention, RMSNorm and rotary embeddings. Parameter names are the checkpoint's
 * ({@code embed_tokens}, {@code layers.i.self_attn.q_proj}, ...).
 *
 * <p>For text-only input the three M-RoPE position rows (t, h, w) are all {@code arange(L)}, so the
 * sectioned rotary embedding equals plain 1-D RoPE with rotate_half, which is what is computed here.
 */
public final class Qwen25VLTextModel implements TokenEncoder {
    /** HunyuanVideo 1.5 takes hidden_states[-3] (num_hidden_layers_to_skip = 2). */
    public static final int HIDDEN_STATE_INDEX = -3;
    private final Qwen25VLTextConfig config;
    private final EncoderWeights w;
    private final Device device;

    private Qwen25VLTextModel(Qwen25VLTextConfig config, EncoderWeights w, Device device) {
        this.config = config;
        this.w = w;
        this.device = device;
    }

    /** The configuration. */
    public Qwen25VLTextConfig config() {
        return config;
    }

    /** Expected parameter names and shapes (without prefix). */
    public static Map<String, long[]> expectedShapes(Qwen25VLTextConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        m.put("embed_tokens.weight", new long[] {c.vocabSize(), d});
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "layers." + i + ".";
            m.put(p + "input_layernorm.weight", new long[] {d});
            m.put(p + "post_attention_layernorm.weight", new long[] {d});
            m.put(p + "self_attn.q_proj.weight", new long[] {d, d});
            m.put(p + "self_attn.q_proj.bias", new long[] {d});
            m.put(p + "self_attn.k_proj.weight", new long[] {kv, d});
            m.put(p + "self_attn.k_proj.bias", new long[] {kv});
            m.put(p + "self_attn.v_proj.weight", new long[] {kv, d});
            m.put(p + "self_attn.v_proj.bias", new long[] {kv});
            m.put(p + "self_attn.o_proj.weight", new long[] {d, d});
            m.put(p + "mlp.gate_proj.weight", new long[] {c.intermediateSize(), d});
            m.put(p + "mlp.up_proj.weight", new long[] {c.intermediateSize(), d});
            m.put(p + "mlp.down_proj.weight", new long[] {d, c.intermediateSize()});
        }
        m.put("norm.weight", new long[] {d});
        return m;
    }

    /**
     * Loads a transformers checkpoint folder. Keys may carry a "model." / "language_model." /
     * "model.language_model." prefix (Qwen2_5_VLModel / ForConditionalGeneration saves); visual and
     * lm_head tensors are then not part of the text model and make verification fail, as they should.
     * Only the layers that hidden_states[-3] depends on are loaded.
     */
    public static Qwen25VLTextModel load(Checkpoint checkpoint, DType dtype, Device device) {
        Qwen25VLTextConfig c = Qwen25VLTextConfig.fromMap(checkpoint.config());
        int layersUsed = c.numHiddenLayers() + 1 + HIDDEN_STATE_INDEX;
        String prefix = EncoderOps.prefixOf(checkpoint.keys(), "embed_tokens.weight", "", "model.", "language_model.",
                "model.language_model.");
        EncoderWeights w = EncoderWeights.load(checkpoint, prefix, expectedShapes(c), k -> used(k, layersUsed), dtype, device);
        return new Qwen25VLTextModel(c, w, device);
    }

    /** A model over parameters made in code (names as {@link #expectedShapes}). */
    public static Qwen25VLTextModel of(Qwen25VLTextConfig c, Map<String, Tensor> params, DType dtype, Device device) {
        return new Qwen25VLTextModel(c, EncoderWeights.of(params, dtype, device), device);
    }

    private static boolean used(String key, int layersUsed) {
        if (!key.startsWith("layers.")) {
            return key.startsWith("embed_tokens");
        }
        int layer = Integer.parseInt(key.substring(7, key.indexOf('.', 7)));
        return layer < layersUsed;
    }

    /**
     * {@code hidden_states[index]} of transformers' forward with output_hidden_states: index 0 is the
     * embedding output and index i the output of decoder layer i (1-based); negative indexes count from
     * num_hidden_layers + 1, so -3 is the output of layer num_hidden_layers - 2. The last entry (the
     * final-normed one) is not offered.
     *
     * @param inputIds (B, L) int64
     * @param attentionMask (B, L), non-zero for real tokens (right padding)
     */
    public Tensor hiddenState(Tensor inputIds, Tensor attentionMask, int index) {
        int n = config.numHiddenLayers();
        int layers = index < 0 ? n + 1 + index : index;
        if (layers < 0 || layers >= n) {
            throw new DiffuseException("hidden state " + index + " is out of range for a " + n + "-layer text encoder");
        }
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor ids = inputIds.to(device, ScalarType.Long);
            long b = ids.size(0);
            long len = ids.size(1);
            Tensor x = DeviceOps.embedding(w.get("embed_tokens.weight"), ids);
            // Rotary tables (L, head_dim) in fp32 on the device: inv_freq = theta^(-2i/hd), emb = cat(freqs, freqs).
            int hd = config.headDim();
            TensorOptions f32 = DeviceOps.options(ScalarType.Float, device);
            Tensor invFreq = torch.pow(new Scalar(config.ropeTheta()),
                    torch.arange(new Scalar(0), new Scalar(hd), new Scalar(2), f32).div(new Scalar((double) hd))).reciprocal();
            Tensor pos = torch.arange(new Scalar(0), new Scalar(len), f32);
            Tensor freqs = pos.unsqueeze(1).mul(invFreq.unsqueeze(0));
            Tensor emb = torch.cat(new TensorVector(freqs, freqs), -1);
            Tensor cos = emb.cos().to(x.scalar_type());
            Tensor sin = emb.sin().to(x.scalar_type());
            // Mask (B, 1, L, L): causal and key is a real token. Padded queries still see the real prefix,
            // so no row is fully masked (with right padding and at least one real token).
            Tensor causal = torch.ones(new long[] {len, len}, DeviceOps.options(ScalarType.Bool, device)).tril();
            Tensor keyValid = attentionMask.to(device, ScalarType.Long).ne(new Scalar(0)).view(b, 1, 1, len);
            // bitwise_and of two bool tensors is logical and (and, unlike logical_and, has a libtorch meta kernel).
            Tensor mask = causal.view(1, 1, len, len).bitwise_and(keyValid);
            for (int i = 0; i < layers; i++) {
                x = decoderLayer(x, "layers." + i + ".", cos, sin, mask);
            }
            if (outer != null) {
                outer.attach(x);
            } else {
                x.retainReference();
            }
            return x;
        }
    }

    private Tensor decoderLayer(Tensor x, String p, Tensor cos, Tensor sin, Tensor mask) {
        long b = x.size(0);
        long len = x.size(1);
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int hd = config.headDim();
        double eps = config.rmsNormEps();
        Tensor h = rmsNorm(x, w.get(p + "input_layernorm.weight"), eps);
        // (B, L, H*hd) -> (B, H, L, hd)
        Tensor q = linear(h, w.get(p + "self_attn.q_proj.weight"), w.get(p + "self_attn.q_proj.bias"))
                .view(b, len, heads, hd).transpose(1, 2);
        Tensor k = linear(h, w.get(p + "self_attn.k_proj.weight"), w.get(p + "self_attn.k_proj.bias"))
                .view(b, len, kvHeads, hd).transpose(1, 2);
        Tensor v = linear(h, w.get(p + "self_attn.v_proj.weight"), w.get(p + "self_attn.v_proj.bias"))
                .view(b, len, kvHeads, hd).transpose(1, 2);
        q = rope(q, cos, sin);
        k = rope(k, cos, sin);
        if (kvHeads != heads) {
            // repeat_kv: each KV head serves heads/kvHeads consecutive query heads.
            k = k.repeat_interleave(heads / kvHeads, new LongOptional(1), new LongOptional());
            v = v.repeat_interleave(heads / kvHeads, new LongOptional(1), new LongOptional());
        }
        Tensor a = DeviceOps.attention(q, k, v, mask, 1.0 / Math.sqrt(hd));
        a = a.transpose(1, 2).reshape(b, len, (long) heads * hd);
        x = x.add(linear(a, w.get(p + "self_attn.o_proj.weight"), null));
        h = rmsNorm(x, w.get(p + "post_attention_layernorm.weight"), eps);
        Tensor gate = torch.silu(linear(h, w.get(p + "mlp.gate_proj.weight"), null));
        Tensor up = linear(h, w.get(p + "mlp.up_proj.weight"), null);
        return x.add(linear(gate.mul(up), w.get(p + "mlp.down_proj.weight"), null));
    }

    /** x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1); tables (L, hd) broadcast over (B, H). */
    private static Tensor rope(Tensor x, Tensor cos, Tensor sin) {
        long half = x.size(-1) / 2;
        Tensor x1 = x.narrow(-1, 0, half);
        Tensor x2 = x.narrow(-1, half, half);
        Tensor rotated = torch.cat(new TensorVector(x2.neg(), x1), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** hidden_states[-3], what HunyuanVideo 1.5 uses. */
    @Override
    public Tensor encode(Tensor inputIds, Tensor attentionMask) {
        return hiddenState(inputIds, attentionMask, HIDDEN_STATE_INDEX);
    }

    @Override
    public long hiddenSize() {
        return config.hiddenSize();
    }

    @Override
    public void close() {
        w.close();
    }
}
