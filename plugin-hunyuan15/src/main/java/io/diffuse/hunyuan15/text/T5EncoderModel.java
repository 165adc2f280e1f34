package io.diffuse.hunyuan15.text;

import static io.diffuse.hunyuan15.text.EncoderOps.linear;
import static io.diffuse.hunyuan15.text.EncoderOps.rmsNorm;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' T5EncoderModel (ByT5's encoder): relative-position attention bias from block 0 shared
 * by all blocks, unscaled dot-product attention, T5LayerNorm (RMS, no mean, no bias), ReLU or gated
 * GELU feed-forward, final layer norm. Parameter names are the checkpoint's.
 */
public final class T5EncoderModel implements TokenEncoder {
    private final T5EncoderConfig config;
    private final EncoderWeights w;
    private final Device device;

    private T5EncoderModel(T5EncoderConfig config, EncoderWeights w, Device device) {
        this.config = config;
        this.w = w;
        this.device = device;
    }

    /** The configuration. */
    public T5EncoderConfig config() {
        return config;
    }

    /** Expected parameter names and shapes (embedding as shared.weight). */
    public static Map<String, long[]> expectedShapes(T5EncoderConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.dModel();
        long inner = (long) c.numHeads() * c.dKv();
        m.put("shared.weight", new long[] {c.vocabSize(), d});
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "encoder.block." + i + ".layer.";
            for (String n : new String[] {"q", "k", "v"}) {
                m.put(p + "0.SelfAttention." + n + ".weight", new long[] {inner, d});
            }
            m.put(p + "0.SelfAttention.o.weight", new long[] {d, inner});
            if (i == 0) {
                m.put(p + "0.SelfAttention.relative_attention_bias.weight", new long[] {c.relativeAttentionNumBuckets(), c.numHeads()});
            }
            m.put(p + "0.layer_norm.weight", new long[] {d});
            if (c.gated()) {
                m.put(p + "1.DenseReluDense.wi_0.weight", new long[] {c.dFf(), d});
                m.put(p + "1.DenseReluDense.wi_1.weight", new long[] {c.dFf(), d});
            } else {
                m.put(p + "1.DenseReluDense.wi.weight", new long[] {c.dFf(), d});
            }
            m.put(p + "1.DenseReluDense.wo.weight", new long[] {d, c.dFf()});
            m.put(p + "1.layer_norm.weight", new long[] {d});
        }
        m.put("encoder.final_layer_norm.weight", new long[] {d});
        return m;
    }

    /** Loads a transformers T5EncoderModel folder (a tied copy encoder.embed_tokens.weight is accepted). */
    public static T5EncoderModel load(Checkpoint checkpoint, DType dtype, Device device) {
        T5EncoderConfig c = T5EncoderConfig.fromMap(checkpoint.config());
        Map<String, long[]> expected = expectedShapes(c);
        if (checkpoint.keys().contains("encoder.embed_tokens.weight")) {
            expected.put("encoder.embed_tokens.weight", expected.get("shared.weight"));
        }
        EncoderWeights w = EncoderWeights.load(checkpoint, "", expected, k -> !k.equals("encoder.embed_tokens.weight"), dtype, device);
        return new T5EncoderModel(c, w, device);
    }

    /** A model over parameters made in code (names as {@link #expectedShapes}). */
    public static T5EncoderModel of(T5EncoderConfig c, Map<String, Tensor> params, DType dtype, Device device) {
        return new T5EncoderModel(c, EncoderWeights.of(params, dtype, device), device);
    }

    /**
     * last_hidden_state (B, L, d_model) of {@code inputIds} (B, L) with {@code attentionMask} (B, L),
     * non-zero for real tokens.
     */
    public Tensor forward(Tensor inputIds, Tensor attentionMask) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor ids = inputIds.to(device, ScalarType.Long);
            long b = ids.size(0);
            long len = ids.size(1);
            Tensor x = DeviceOps.embedding(w.get("shared.weight"), ids);
            ScalarType dt = x.scalar_type();
            // position_bias (1, H, L, L) + extended mask (B, 1, 1, L) = (1 - mask) * finfo.min
            Tensor bias = positionBias(len).to(dt);
            double min = dt.value == ScalarType.Float.value ? -Float.MAX_VALUE : dt.value == ScalarType.Half.value ? -65504.0 : -3.3895313892515355e38;
            Tensor keyMask = attentionMask.to(device, dt);
            Tensor ext = torch.ones_like(keyMask).sub(keyMask).mul(new Scalar(min)).view(b, 1, 1, len);
            Tensor mask = bias.add(ext);
            double eps = config.layerNormEpsilon();
            for (int i = 0; i < config.numLayers(); i++) {
                String p = "encoder.block." + i + ".layer.";
                Tensor h = rmsNorm(x, w.get(p + "0.layer_norm.weight"), eps);
                x = x.add(selfAttention(h, p + "0.SelfAttention.", mask));
                h = rmsNorm(x, w.get(p + "1.layer_norm.weight"), eps);
                x = x.add(feedForward(h, p + "1.DenseReluDense."));
            }
            x = rmsNorm(x, w.get("encoder.final_layer_norm.weight"), eps);
            if (outer != null) {
                outer.attach(x);
            } else {
                x.retainReference();
            }
            return x;
        }
    }

    private Tensor selfAttention(Tensor h, String p, Tensor mask) {
        long b = h.size(0);
        long len = h.size(1);
        int heads = config.numHeads();
        int dkv = config.dKv();
        // (B, L, H*dkv) -> (B, H, L, dkv)
        Tensor q = linear(h, w.get(p + "q.weight"), null).view(b, len, heads, dkv).transpose(1, 2);
        Tensor k = linear(h, w.get(p + "k.weight"), null).view(b, len, heads, dkv).transpose(1, 2);
        Tensor v = linear(h, w.get(p + "v.weight"), null).view(b, len, heads, dkv).transpose(1, 2);
        // T5 does not scale the scores (the 1/sqrt(d) is folded into the initialisation).
        Tensor a = DeviceOps.attention(q, k, v, mask, 1.0);
        return linear(a.transpose(1, 2).reshape(b, len, (long) heads * dkv), w.get(p + "o.weight"), null);
    }

    private Tensor feedForward(Tensor h, String p) {
        Tensor act;
        if (config.gated()) {
            act = activate(linear(h, w.get(p + "wi_0.weight"), null)).mul(linear(h, w.get(p + "wi_1.weight"), null));
        } else {
            act = activate(linear(h, w.get(p + "wi.weight"), null));
        }
        return linear(act, w.get(p + "wo.weight"), null);
    }

    private Tensor activate(Tensor x) {
        return switch (config.activation()) {
            case "gelu_new" -> torch.gelu(x, "tanh");
            case "gelu" -> torch.gelu(x);
            default -> torch.relu(x);
        };
    }

    /**
     * T5Attention.compute_bias for a bidirectional encoder: (1, H, L, L), in fp32 as transformers
     * computes the buckets, on the device (transformers: arange(..., device=device)).
     */
    private Tensor positionBias(long len) {
        TensorOptions i64 = DeviceOps.options(ScalarType.Long, device);
        Tensor ctx = torch.arange(new Scalar(0), new Scalar(len), i64).unsqueeze(1);
        Tensor mem = torch.arange(new Scalar(0), new Scalar(len), i64).unsqueeze(0);
        Tensor rel = mem.sub(ctx); // (L, L) memory - query
        long numBuckets = config.relativeAttentionNumBuckets() / 2;
        Tensor buckets = rel.gt(new Scalar(0)).to(ScalarType.Long).mul(new Scalar(numBuckets));
        rel = DeviceOps.abs(rel);
        long maxExact = numBuckets / 2;
        Tensor isSmall = rel.lt(new Scalar(maxExact));
        Tensor large = rel.to(ScalarType.Float).div(new Scalar((double) maxExact)).log()
                .div(new Scalar(Math.log((double) config.relativeAttentionMaxDistance() / maxExact)))
                .mul(new Scalar((double) (numBuckets - maxExact))).to(ScalarType.Long).add(new Scalar(maxExact));
        large = torch.min(large, torch.full_like(large, new Scalar(numBuckets - 1)));
        buckets = buckets.add(DeviceOps.where(isSmall, rel, large));
        Tensor values = DeviceOps.embedding(w.get("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"), buckets);
        return values.permute(2, 0, 1).unsqueeze(0); // (L, L, H) -> (1, H, L, L)
    }

    @Override
    public Tensor encode(Tensor inputIds, Tensor attentionMask) {
        return forward(inputIds, attentionMask);
    }

    @Override
    public long hiddenSize() {
        return config.dModel();
    }

    @Override
    public void close() {
        w.close();
    }
}
