package io.diffuse.hunyuan15.transformer;

import static io.diffuse.hunyuan15.transformer.Nn.gelu;
import static io.diffuse.hunyuan15.transformer.Nn.layerNorm;
import static io.diffuse.hunyuan15.transformer.Nn.silu;

import io.diffuse.api.runtime.DeviceOps;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The small modules of the transformer, each named after its diffusers class; fields hold the
 * parameters of the checkpoint prefix the module was built with.
 */
final class Modules {
    private Modules() {
    }

    /** nn.Linear: {@code prefix.weight} (out, in), {@code prefix.bias}. */
    record Linear(Tensor weight, Tensor bias) {
        static Linear of(Weights w, String prefix) {
            return new Linear(w.get(prefix + ".weight"), w.get(prefix + ".bias"));
        }

        Tensor forward(Tensor x) {
            return Nn.linear(x, weight, bias);
        }
    }

    /** nn.LayerNorm with affine parameters. */
    record LayerNorm(Tensor weight, Tensor bias, double eps) {
        static LayerNorm of(Weights w, String prefix, double eps) {
            return new LayerNorm(w.get(prefix + ".weight"), w.get(prefix + ".bias"), eps);
        }

        Tensor forward(Tensor x) {
            return layerNorm(x, weight, bias, eps);
        }
    }

    /** TimestepEmbedding: linear_1, SiLU, linear_2. Also PixArtAlphaTextProjection(act "silu"), same shape. */
    record TimestepEmbedding(Linear linear1, Linear linear2) {
        static TimestepEmbedding of(Weights w, String prefix) {
            return new TimestepEmbedding(Linear.of(w, prefix + ".linear_1"), Linear.of(w, prefix + ".linear_2"));
        }

        Tensor forward(Tensor x) {
            return linear2.forward(silu(linear1.forward(x)));
        }
    }

    /** HunyuanVideo15ByT5TextProjection: LayerNorm(eps 1e-5), linear_1, GELU, linear_2, GELU, linear_3. */
    record HunyuanVideo15ByT5TextProjection(LayerNorm norm, Linear linear1, Linear linear2, Linear linear3) {
        static HunyuanVideo15ByT5TextProjection of(Weights w, String prefix) {
            return new HunyuanVideo15ByT5TextProjection(LayerNorm.of(w, prefix + ".norm", 1e-5), Linear.of(w, prefix + ".linear_1"),
                    Linear.of(w, prefix + ".linear_2"), Linear.of(w, prefix + ".linear_3"));
        }

        Tensor forward(Tensor x) {
            return linear3.forward(gelu(linear2.forward(gelu(linear1.forward(norm.forward(x))))));
        }
    }

    /** HunyuanVideo15ImageProjection: norm_in, linear_1, GELU, linear_2, norm_out (LayerNorms eps 1e-5). */
    record HunyuanVideo15ImageProjection(LayerNorm normIn, Linear linear1, Linear linear2, LayerNorm normOut) {
        static HunyuanVideo15ImageProjection of(Weights w, String prefix) {
            return new HunyuanVideo15ImageProjection(LayerNorm.of(w, prefix + ".norm_in", 1e-5), Linear.of(w, prefix + ".linear_1"),
                    Linear.of(w, prefix + ".linear_2"), LayerNorm.of(w, prefix + ".norm_out", 1e-5));
        }

        Tensor forward(Tensor x) {
            return normOut.forward(linear2.forward(gelu(linear1.forward(normIn.forward(x)))));
        }
    }

    /** FeedForward: net.0.proj, activation, net.2. */
    record FeedForward(Linear proj, Linear out, boolean tanhGelu) {
        /** The dual-stream blocks' FeedForward, activation "gelu-approximate". */
        static FeedForward geluTanh(Weights w, String prefix) {
            return new FeedForward(Linear.of(w, prefix + ".net.0.proj"), Linear.of(w, prefix + ".net.2"), true);
        }

        /** The refiner's FeedForward, activation "linear-silu" (SiLU, not gated). */
        static FeedForward linearSilu(Weights w, String prefix) {
            return new FeedForward(Linear.of(w, prefix + ".net.0.proj"), Linear.of(w, prefix + ".net.2"), false);
        }

        Tensor forward(Tensor x) {
            Tensor h = proj.forward(x);
            return out.forward(tanhGelu ? Nn.geluTanh(h) : silu(h));
        }
    }

    /** Splits the last dim of {@code x} into {@code n} equal chunks. */
    static Tensor[] chunk(Tensor x, int n) {
        TensorVector v = x.chunk(n, -1);
        Tensor[] out = new Tensor[n];
        for (int i = 0; i < n; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    /** Plain multi-head self-attention over (B, S, H*D) with no mask; scale 1/sqrt(D). */
    static Tensor selfAttention(Tensor q, Tensor k, Tensor v, int heads) {
        long b = q.size(0);
        // (B, S, H*D) -> (B, H, S, D)
        Tensor qh = q.unflatten(2, heads, -1).transpose(1, 2);
        Tensor kh = k.unflatten(2, heads, -1).transpose(1, 2);
        Tensor vh = v.unflatten(2, heads, -1).transpose(1, 2);
        Tensor o = DeviceOps.attention(qh, kh, vh, null, null);
        // (B, H, S, D) -> (B, S, H*D)
        return o.transpose(1, 2).reshape(b, -1, q.size(2));
    }
}
