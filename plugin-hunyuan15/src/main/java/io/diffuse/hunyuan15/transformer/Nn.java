package io.diffuse.hunyuan15.transformer;

import io.diffuse.api.runtime.DeviceOps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** The functional building blocks the transformer's modules are made of (torch.nn.functional equivalents). */
final class Nn {
    private Nn() {
    }

    /** F.linear; fp32 CPU GEMMs on every intra-op thread ({@link io.diffuse.api.runtime.Linear}). */
    static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        return io.diffuse.api.runtime.Linear.linear(x, weight, bias);
    }

    /** LayerNorm over the last dim; weight and bias may be null (elementwise_affine=False). */
    static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return DeviceOps.layerNorm(x, weight, bias, eps);
    }

    /** diffusers RMSNorm: statistics in fp32, cast back to the input dtype, then the weight. */
    static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor xf = x.to(ScalarType.Float);
        Tensor variance = xf.pow(new Scalar(2)).mean(new long[] {-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional());
        Tensor normed = xf.mul(torch.rsqrt(variance.add(new Scalar(eps)))).to(x.scalar_type());
        return normed.mul(weight);
    }

    static Tensor silu(Tensor x) {
        return torch.silu(x);
    }

    /** Exact (erf) GELU. */
    static Tensor gelu(Tensor x) {
        return torch.gelu(x);
    }

    /** GELU with the tanh approximation (diffusers "gelu-approximate"). */
    static Tensor geluTanh(Tensor x) {
        return torch.gelu(x, "tanh");
    }

    /** (1 + scale) * x + shift with (B, D) modulation broadcast over tokens of (B, N, D). */
    static Tensor modulate(Tensor x, Tensor shift, Tensor scale) {
        return x.mul(scale.unsqueeze(1).add(new Scalar(1))).add(shift.unsqueeze(1));
    }

    static Tensor cat(long dim, Tensor... parts) {
        return torch.cat(new TensorVector(parts), dim);
    }

    /**
     * diffusers Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0) in fp32: (B,) -> (B, 256)
     * laid out [cos | sin] with frequencies exp(-ln(10000) i / 128), on the timestep's device.
     */
    static Tensor timestepProjection(Tensor timestep, int channels) {
        int half = channels / 2;
        Tensor t = timestep.to(ScalarType.Float);
        Tensor exponent = torch.arange(new Scalar(0), new Scalar(half), DeviceOps.options(ScalarType.Float, t.device()))
                .mul(new Scalar(-Math.log(10000.0))).div(new Scalar((double) half));
        Tensor emb = t.unsqueeze(1).mul(exponent.exp().unsqueeze(0));
        return cat(-1, emb.cos(), emb.sin());
    }

    /** See {@link io.diffuse.api.tensor.Scopes#escape}. */
    static Tensor escape(Tensor t, PointerScope outer) {
        return io.diffuse.api.tensor.Scopes.escape(t, outer);
    }
}
