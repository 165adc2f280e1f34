package io.diffuse.hunyuan15.transformer;

import io.diffuse.api.runtime.DeviceOps;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * 3-D rotary position embedding of the video tokens, in fp32: per axis (t, h, w) with dimension d_a,
 * freq_k = 1/theta^(2k/d_a), angle = position x freq, cos/sin repeated pairwise; axes concatenated.
 */
final class HunyuanVideo15RotaryPosEmbed {
    private final int[] ropeDim;
    private final double theta;

    HunyuanVideo15RotaryPosEmbed(int[] ropeDim, double theta) {
        this.ropeDim = ropeDim.clone();
        this.theta = theta;
    }

    /**
     * {cos, sin}, each (T*H*W, head_dim) fp32 on {@code device}, rows in row-major (t, h, w) token
     * order. Built on the device, as diffusers builds its grid on hidden_states.device.
     */
    Tensor[] forward(long frames, long height, long width, Device device) {
        TensorOptions f32 = DeviceOps.options(ScalarType.Float, device);
        TensorVector grid = torch.meshgrid(new TensorVector(torch.arange(new Scalar(frames), f32),
                torch.arange(new Scalar(height), f32), torch.arange(new Scalar(width), f32)), "ij");
        Tensor[] cos = new Tensor[3];
        Tensor[] sin = new Tensor[3];
        for (int a = 0; a < 3; a++) {
            Tensor pos = grid.get(a).reshape(-1);
            int dim = ropeDim[a];
            // diffusers get_1d_rotary_pos_embed(use_real=True, repeat_interleave_real=True), fp32
            Tensor exponents = torch.arange(new Scalar(0), new Scalar(dim), new Scalar(2), f32).div(new Scalar((double) dim));
            Tensor freqs = torch.pow(new Scalar(theta), exponents).reciprocal();
            Tensor angles = torch.outer(pos, freqs);
            cos[a] = angles.cos().repeat_interleave(2, new LongOptional(1), new LongOptional());
            sin[a] = angles.sin().repeat_interleave(2, new LongOptional(1), new LongOptional());
        }
        return new Tensor[] {Nn.cat(1, cos), Nn.cat(1, sin)};
    }

    /**
     * Rotates interleaved pairs of {@code x} (B, N, H, D) in fp32 and casts back:
     * {@code x*cos + rot(x)*sin} with rot(x)[2i] = -x[2i+1], rot(x)[2i+1] = x[2i].
     *
     * @param cos (N, D) fp32
     * @param sin (N, D) fp32
     */
    static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
        Tensor xf = x.to(ScalarType.Float);
        // (B, N, H, D) -> (B, N, H, D/2, 2) -> pairs (real, imag)
        Tensor pairs = xf.unflatten(-1, -1, 2);
        Tensor real = pairs.select(-1, 0);
        Tensor imag = pairs.select(-1, 1);
        Tensor rotated = torch.stack(new TensorVector(imag.neg(), real), -1).flatten(3, 4);
        Tensor c = cos.unsqueeze(1).unsqueeze(0);
        Tensor s = sin.unsqueeze(1).unsqueeze(0);
        return xf.mul(c).add(rotated.mul(s)).to(x.scalar_type());
    }
}
