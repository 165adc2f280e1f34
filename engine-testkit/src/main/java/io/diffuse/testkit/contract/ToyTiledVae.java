package io.diffuse.testkit.contract;

import io.diffuse.api.vae.TiledVae;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Conv3dFuncOptions;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A tiny VAE for executor contracts: spatial compression 8, temporal 4, 4 latent channels; a 3 x 3
 * convolution in latent space makes each output pixel depend on its neighbours, so where tiles are
 * cut and blended shows in the result (tiled differs from untiled; two tiled executors must agree to
 * the bit). Weights from a fixed seed; fp32 on the CPU.
 */
public final class ToyTiledVae implements TiledVae {
    private final Tensor encodeMix; // (4, 3)
    private final Tensor decodeMix; // (3, 4)
    private final Tensor conv; // (4, 4, 1, 3, 3)

    public ToyTiledVae() {
        Generator g = torch.createCPUGenerator(11);
        TensorOptions f32 = new TensorOptions(ScalarType.Float);
        encodeMix = keep(torch.randn(new long[] {4, 3}, new GeneratorOptional(g), f32));
        decodeMix = keep(torch.randn(new long[] {3, 4}, new GeneratorOptional(g), f32));
        conv = keep(torch.randn(new long[] {4, 4, 1, 3, 3}, new GeneratorOptional(g), f32).mul(new Scalar(1.0 / 6)));
    }

    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }

    @Override
    public int spatialCompression() {
        return 8;
    }

    @Override
    public int temporalCompression() {
        return 4;
    }

    @Override
    public int latentChannels() {
        return 4;
    }

    @Override
    public boolean supportsTiling() {
        return true;
    }

    /** (B, 3, 4k+1, H, W) -> (B, 4, k+1, H/8, W/8): 8 x 8 means, frames 0 and the means of each following 4. */
    @Override
    public Tensor encodeTile(Tensor sample) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            long b = sample.size(0);
            long t = sample.size(2);
            long h = sample.size(3) / 8;
            long w = sample.size(4) / 8;
            Tensor pooled = sample.reshape(b, 3, t, h, 8, w, 8).mean(new long[] {4, 6}); // (B, 3, T, h, w)
            Tensor first = pooled.narrow(2, 0, 1);
            Tensor rest = pooled.narrow(2, 1, t - 1).reshape(b, 3, (t - 1) / 4, 4, h, w).mean(new long[] {3});
            Tensor frames = torch.cat(new org.bytedeco.pytorch.TensorVector(first, rest), 2); // (B, 3, k+1, h, w)
            Tensor latent = torch.einsum("oc,bcthw->bothw", new org.bytedeco.pytorch.TensorVector(encodeMix, frames));
            Tensor out = torch.conv3d(latent, conv, new org.bytedeco.pytorch.TensorOptional(), new long[] {1, 1, 1},
                    new long[] {0, 1, 1}, new long[] {1, 1, 1}, 1).tanh();
            return escape(out, outer);
        }
    }

    /** (B, 4, t, h, w) -> (B, 3, 4(t-1)+1, 8h, 8w) in [0, 1]. */
    @Override
    public Tensor decodeTile(Tensor latent) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor mixed = torch.conv3d(latent, conv, new org.bytedeco.pytorch.TensorOptional(), new long[] {1, 1, 1},
                    new long[] {0, 1, 1}, new long[] {1, 1, 1}, 1);
            Tensor rgb = torch.einsum("oc,bcthw->bothw", new org.bytedeco.pytorch.TensorVector(decodeMix, mixed)).sigmoid();
            long t = rgb.size(2);
            Tensor frames = t == 1 ? rgb : torch.cat(new org.bytedeco.pytorch.TensorVector(rgb.narrow(2, 0, 1),
                    rgb.narrow(2, 1, t - 1).repeat_interleave(4, new LongOptional(2), new LongOptional())), 2);
            Tensor out = frames.repeat_interleave(8, new LongOptional(3), new LongOptional())
                    .repeat_interleave(8, new LongOptional(4), new LongOptional());
            return escape(out, outer);
        }
    }

    private static Tensor escape(Tensor t, PointerScope outer) {
        if (outer != null) {
            outer.attach(t);
        } else {
            t.retainReference();
        }
        return t;
    }

    @Override
    public void checkInput(Tensor input, boolean encode) {
        if (input.dim() != 5) {
            throw new IllegalArgumentException("expected (B, C, T, H, W), got " + input.dim() + " dimensions");
        }
        if (encode && ((input.size(2) - 1) % 4 != 0 || input.size(3) % 8 != 0 || input.size(4) % 8 != 0)) {
            throw new IllegalArgumentException("encode needs 4k+1 frames and sides that are multiples of 8");
        }
    }
}
