package io.diffuse.hunyuan15.vae;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.pad;
import static org.bytedeco.pytorch.global.torch.silu_;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import io.diffuse.api.vae.TiledVae;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * HunyuanVideo 1.5's causal 3-D VAE, a port of diffusers' {@code AutoencoderKLHunyuanVideo15}
 * (autoencoder_kl_hunyuanvideo15.py): the nested classes mirror diffusers' modules and their fields
 * mirror the checkpoint keys, so the two files read side by side.
 *
 * <p>Tensors are (B, C, T, H, W). A video of {@code 4k+1} frames encodes to {@code k+1} latent
 * frames, 16x smaller in H and W (for the released config). {@link #encodeTile} returns the
 * posterior mode (mean) before the scaling factor; {@link #decodeTile} takes unscaled latents.
 * Differences from diffusers, none of which changes results beyond float rounding: the mid-block
 * attention runs frame by frame (queries of frame f against keys of frames 0..f) instead of
 * materialising an S x S block-causal mask, and any batch size works.
 */
public final class AutoencoderKLHunyuanVideo15 implements TiledVae, AutoCloseable {
    private final HunyuanVideo15VaeConfig config;
    private final Params params;
    private final HunyuanVideo15Encoder3D encoder;
    private final HunyuanVideo15Decoder3D decoder;
    private final ScalarType dtype;
    /** Where the weights live; tiles are moved here (and cast) before they go through the model. */
    private Device device = new Device("cpu");

    private AutoencoderKLHunyuanVideo15(HunyuanVideo15VaeConfig config, ScalarType dtype) {
        this.config = config;
        this.dtype = dtype;
        this.params = new Params();
        this.encoder = new HunyuanVideo15Encoder3D(params.child("encoder"), config);
        this.decoder = new HunyuanVideo15Decoder3D(params.child("decoder"), config);
    }

    /**
     * Builds the VAE from {@code checkpoint}'s config.json and loads its weights after a strict check
     * of every key and shape ({@link Checkpoint#verify}).
     *
     * @param device where the weights live; null for CPU
     */
    public static AutoencoderKLHunyuanVideo15 load(Checkpoint checkpoint, DType dtype, Device device) {
        AutoencoderKLHunyuanVideo15 vae = new AutoencoderKLHunyuanVideo15(
                HunyuanVideo15VaeConfig.fromJson(checkpoint.config()), dtype.scalarType());
        vae.params.load(checkpoint, dtype, device);
        if (device != null) {
            vae.device = device;
        }
        return vae;
    }

    /** The checkpoint keys and shapes a VAE of {@code config} has. */
    public static Map<String, long[]> expectedKeys(HunyuanVideo15VaeConfig config) {
        return new AutoencoderKLHunyuanVideo15(config, ScalarType.Float).params.expected();
    }

    /** The model's configuration. */
    public HunyuanVideo15VaeConfig config() {
        return config;
    }

    /** Latents for the transformer are {@code mode * scalingFactor()}. */
    public double scalingFactor() {
        return config.scalingFactor();
    }

    @Override
    public int spatialCompression() {
        return config.spatialCompressionRatio();
    }

    @Override
    public int temporalCompression() {
        return config.temporalCompressionRatio();
    }

    @Override
    public int latentChannels() {
        return config.latentChannels();
    }

    @Override
    public boolean supportsTiling() {
        return true;
    }

    /** The encoder's raw moments (mean and log-variance channels) of a sample or a tile of it. */
    public Tensor encodeMoments(Tensor sample) {
        return scoped(() -> encoder.forward(sample.to(device, dtype)));
    }

    /** Encoder then the posterior's mode: the first {@code latent_channels} channels of the moments. */
    @Override
    public Tensor encodeTile(Tensor sample) {
        // DiagonalGaussianDistribution: mean, logvar = chunk(moments, 2, dim=1); mode() = mean
        return scoped(() -> encoder.forward(sample.to(device, dtype)).narrow(1, 0, config.latentChannels()).contiguous());
    }

    @Override
    public Tensor decodeTile(Tensor latent) {
        return scoped(() -> decoder.forward(latent.to(device, dtype)));
    }

    @Override
    public void checkInput(Tensor input, boolean encode) {
        checkInput(config, input, encode);
    }

    /** {@link #checkInput(Tensor, boolean)} for a VAE of {@code config}, without weights. */
    static void checkInput(HunyuanVideo15VaeConfig config, Tensor input, boolean encode) {
        String what = encode ? "VAE encode input (sample)" : "VAE decode input (latent)";
        if (input.dim() != 5) {
            throw new IllegalArgumentException(what + " must have 5 dimensions (B, C, T, H, W), got " + input.dim());
        }
        long b = input.size(0);
        long c = input.size(1);
        long t = input.size(2);
        long h = input.size(3);
        long w = input.size(4);
        if (b < 1 || t < 1 || h < 1 || w < 1) {
            throw new IllegalArgumentException(what + " has an empty dimension: (" + b + ", " + c + ", " + t + ", "
                    + h + ", " + w + ")");
        }
        int r = config.spatialCompressionRatio();
        int rt = config.temporalCompressionRatio();
        if (encode) {
            if (c != config.inChannels()) {
                throw new IllegalArgumentException(what + " has " + c + " channels; this VAE takes "
                        + config.inChannels() + " (B, " + config.inChannels() + ", T, H, W)");
            }
            if ((t - 1) % rt != 0) {
                throw new IllegalArgumentException(what + " has " + t + " frames; the frame count must be " + rt
                        + "k+1 (1, " + (1 + rt) + ", " + (1 + 2 * rt) + ", ...), e.g. " + ((t - 1) / rt * rt + 1)
                        + " or " + ((t - 1) / rt * rt + 1 + rt));
            }
            if (h % r != 0 || w % r != 0) {
                throw new IllegalArgumentException(what + " is " + h + "x" + w + " px; height and width must be"
                        + " multiples of " + r + " (e.g. " + (h + r - 1) / r * r + "x" + (w + r - 1) / r * r + ")");
            }
        } else if (c != config.latentChannels()) {
            throw new IllegalArgumentException(what + " has " + c + " channels; this VAE's latents have "
                    + config.latentChannels());
        }
    }

    /** Releases the weights. */
    @Override
    public void close() {
        params.close();
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    /**
     * Runs {@code body} in its own {@link PointerScope} so its temporaries are freed on return, and
     * hands the result to the caller's scope (or to the caller when there is none).
     */
    static Tensor scoped(Supplier<Tensor> body) {
        return io.diffuse.api.tensor.Scopes.inCallerScope(body);
    }

    /**
     * Frees {@code t} now rather than when its scope closes (as Python frees a tensor when its last
     * reference goes), unless it is {@code keep}, a tensor the caller owns. Keeps peak memory down.
     */
    private static void free(Tensor t, Tensor keep) {
        if (t != keep) {
            t.close();
        }
    }

    private static Tensor conv(Tensor x, Params.Param weight, Params.Param bias) {
        return DeviceOps.conv(x, weight.get(), bias.get(), new long[] {1, 1, 1}, new long[] {0, 0, 0});
    }

    private static Tensor cat2(Tensor a, Tensor b, long dim) {
        return cat(new TensorVector(a, b), dim);
    }

    private static Tensor meanDim(Tensor t, long dim) {
        return t.mean(new long[] {dim}, false, new ScalarTypeOptional());
    }

    private static Tensor repeatInterleave(Tensor t, long repeats, long dim) {
        return t.repeat_interleave(repeats, new LongOptional(dim), new LongOptional());
    }

    private static Tensor frames(Tensor t, long start, long length) {
        return t.narrow(2, start, length);
    }

    // ---------------------------------------------------------------------------------------------
    // modules, in diffusers' order

    /**
     * Largest input chunk (elements) a causal conv processes at once; bigger inputs are convolved in
     * runs of frames. Package-private so tests can force chunking on tiny inputs.
     */
    static long convChunkElements = 1L << 24;

    /**
     * {@code HunyuanVideo15CausalConv3d}: replicate padding (W, H both sides; T 2 in front), conv.
     * Large inputs run in chunks of frames (each output frame needs only its two predecessors), so
     * the padded copy and the conv library's work buffers stay small; each output value is the same
     * sum over the same inputs.
     */
    static final class HunyuanVideo15CausalConv3d {
        private final Params.Param weight;
        private final Params.Param bias;
        private final long[] timeCausalPadding;
        private final int kernel;

        HunyuanVideo15CausalConv3d(Params p, int in, int out, int kernel) {
            Params conv = p.child("conv");
            this.weight = conv.declare("weight", out, in, kernel, kernel, kernel);
            this.bias = conv.declare("bias", out);
            // F.pad order: (W left, W right, H top, H bottom, T front, T back)
            this.timeCausalPadding = new long[] {kernel / 2, kernel / 2, kernel / 2, kernel / 2, kernel - 1, 0};
            this.kernel = kernel;
        }

        Tensor forward(Tensor x) {
            long frames = x.size(2);
            long perFrame = x.numel() / Math.max(1, frames);
            long chunk = Math.max(1, convChunkElements / Math.max(1, perFrame));
            if (chunk >= frames) {
                return scoped(() -> conv(pad(x, timeCausalPadding, "replicate", new DoubleOptional()), weight, bias));
            }
            return scoped(() -> {
                Tensor out = null;
                for (long t0 = 0; t0 < frames; t0 += chunk) {
                    long t1 = Math.min(frames, t0 + chunk);
                    long first = Math.max(0, t0 - (kernel - 1)); // the causal window reaches kernel-1 frames back
                    long front = (kernel - 1) - (t0 - first); // frames before frame 0: replicate it
                    long[] padding = {kernel / 2, kernel / 2, kernel / 2, kernel / 2, front, 0};
                    try (PointerScope part = new PointerScope()) {
                        Tensor y = conv(pad(x.narrow(2, first, t1 - first), padding, "replicate", new DoubleOptional()),
                                weight, bias);
                        if (out == null) {
                            out = torch.empty(new long[] {y.size(0), y.size(1), frames, y.size(3), y.size(4)},
                                    y.options(), new org.bytedeco.pytorch.MemoryFormatOptional());
                            // out must outlive this chunk's scope
                            out.retainReference();
                        }
                        out.narrow(2, t0, t1 - t0).copy_(y);
                    }
                }
                PointerScope.getInnerScope().attach(out);
                out.releaseReference();
                return out;
            });
        }

        /** {@link #forward} that frees {@code x} (a temporary of the caller) once it is no longer needed. */
        Tensor forwardConsuming(Tensor x) {
            long frames = x.size(2);
            if (convChunkElements / Math.max(1, x.numel() / Math.max(1, frames)) < frames) {
                Tensor y = forward(x); // chunked: reads x until the last chunk
                x.close();
                return y;
            }
            return scoped(() -> {
                Tensor padded = pad(x, timeCausalPadding, "replicate", new DoubleOptional());
                x.close();
                return conv(padded, weight, bias);
            });
        }
    }

    /** A plain {@code nn.Conv3d} with kernel 1 (keys {@code weight}, {@code bias} directly). */
    static final class Conv1x1 {
        private final Params.Param weight;
        private final Params.Param bias;

        Conv1x1(Params p, int in, int out) {
            this.weight = p.declare("weight", out, in, 1, 1, 1);
            this.bias = p.declare("bias", out);
        }

        Tensor forward(Tensor x) {
            return conv(x, weight, bias);
        }
    }

    /** {@code HunyuanVideo15RMS_norm}: F.normalize over channels (fp32 for half inputs) * sqrt(C) * gamma. */
    static final class HunyuanVideo15RmsNorm {
        private final Params.Param gamma;
        private final double scale;

        HunyuanVideo15RmsNorm(Params p, int dim) {
            this.gamma = p.declare("gamma", dim, 1, 1, 1);
            this.scale = Math.sqrt(dim);
        }

        Tensor forward(Tensor x) {
            return scoped(() -> {
                ScalarType type = x.scalar_type();
                boolean half = type == ScalarType.Half || type == ScalarType.BFloat16;
                Tensor xf = half ? x.to(ScalarType.Float) : x;
                // F.normalize(x, dim=1): x / max(||x||_2, 1e-12)
                Tensor denom = xf.norm(new ScalarOptional(new Scalar(2.0)), new long[] {1}, true)
                        .clamp_min(new Scalar(1e-12));
                Tensor normalized = xf.div(denom);
                if (half) {
                    xf.close();
                    Tensor cast = normalized.to(type);
                    normalized.close();
                    normalized = cast;
                }
                // normalized * scale * gamma, in place on our own tensor (same arithmetic)
                normalized.mul_(new Scalar(scale)).mul_(gamma.get());
                return normalized;
            });
        }
    }

    /** {@code HunyuanVideo15ResnetBlock}: two (norm, SiLU, causal conv) stages plus the residual. */
    static final class HunyuanVideo15ResnetBlock {
        private final HunyuanVideo15RmsNorm norm1;
        private final HunyuanVideo15CausalConv3d conv1;
        private final HunyuanVideo15RmsNorm norm2;
        private final HunyuanVideo15CausalConv3d conv2;
        private final Conv1x1 convShortcut;

        HunyuanVideo15ResnetBlock(Params p, int in, int out) {
            this.norm1 = new HunyuanVideo15RmsNorm(p.child("norm1"), in);
            this.conv1 = new HunyuanVideo15CausalConv3d(p.child("conv1"), in, out, 3);
            this.norm2 = new HunyuanVideo15RmsNorm(p.child("norm2"), out);
            this.conv2 = new HunyuanVideo15CausalConv3d(p.child("conv2"), out, out, 3);
            this.convShortcut = in != out ? new Conv1x1(p.child("conv_shortcut"), in, out) : null;
        }

        Tensor forward(Tensor x) {
            return scoped(() -> {
                Tensor n = norm1.forward(x);
                silu_(n); // SiLU in place on the norm's output: same values, one tensor fewer
                Tensor h = conv1.forwardConsuming(n);
                n = norm2.forward(h);
                h.close();
                silu_(n);
                h = conv2.forwardConsuming(n);
                Tensor residual = convShortcut != null ? convShortcut.forward(x) : x;
                h.add_(residual);
                free(residual, x);
                return h;
            });
        }
    }

    /**
     * {@code HunyuanVideo15AttnBlock}: single-head self-attention (head dim = C) over all tokens in
     * (f, h, w) order with a block-causal frame mask. Instead of diffusers' S x S additive mask, the
     * queries of frame f attend the keys of frames 0..f directly: the same softmax over the same
     * keys, with memory linear in S.
     */
    static final class HunyuanVideo15AttnBlock {
        private final HunyuanVideo15RmsNorm norm;
        private final Conv1x1 toQ;
        private final Conv1x1 toK;
        private final Conv1x1 toV;
        private final Conv1x1 projOut;

        HunyuanVideo15AttnBlock(Params p, int channels) {
            this.norm = new HunyuanVideo15RmsNorm(p.child("norm"), channels);
            this.toQ = new Conv1x1(p.child("to_q"), channels, channels);
            this.toK = new Conv1x1(p.child("to_k"), channels, channels);
            this.toV = new Conv1x1(p.child("to_v"), channels, channels);
            this.projOut = new Conv1x1(p.child("proj_out"), channels, channels);
        }

        /** (B, C, F, H, W) -> (B, C, S) -> (B, S, C) -> (B, 1, S, C), contiguous. */
        private static Tensor tokens(Tensor t, long b, long c, long s) {
            Tensor out = scoped(() -> t.reshape(b, c, s).permute(0, 2, 1).unsqueeze(1).contiguous());
            t.close();
            return out;
        }

        Tensor forward(Tensor identity) {
            return scoped(() -> {
                Tensor x = norm.forward(identity);
                long b = x.size(0);
                long c = x.size(1);
                long f = x.size(2);
                long h = x.size(3);
                long w = x.size(4);
                long hw = h * w;
                // (B, C, F, H, W) -> (B, C, S) -> (B, S, C) -> (B, 1, S, C)
                Tensor q = tokens(toQ.forward(x), b, c, f * hw);
                Tensor k = tokens(toK.forward(x), b, c, f * hw);
                Tensor v = tokens(toV.forward(x), b, c, f * hw);
                x.close();
                TensorVector perFrame = new TensorVector();
                for (long i = 0; i < f; i++) {
                    // queries of frame i (B, 1, HW, C) against keys/values of frames 0..i (B, 1, (i+1)HW, C)
                    final long frame = i;
                    perFrame.push_back(scoped(() -> DeviceOps.attention(
                            q.narrow(2, frame * hw, hw), k.narrow(2, 0, (frame + 1) * hw),
                            v.narrow(2, 0, (frame + 1) * hw), null, null)));
                }
                Tensor attn = cat(perFrame, 2);
                perFrame.close();
                q.close();
                k.close();
                v.close();
                // (B, 1, S, C) -> (B, F, H, W, C) -> (B, C, F, H, W)
                Tensor out = attn.squeeze(1).reshape(b, f, h, w, c).permute(0, 4, 1, 2, 3);
                return projOut.forward(out).add_(identity);
            });
        }
    }

    /** {@code HunyuanVideo15Upsample._dcae_upsample_rearrange}: (b, r1 r2 r3 c, f, h, w) -> (b, c, r1 f, r2 h, r3 w). */
    static Tensor upsampleRearrange(Tensor t, int r1, int r2, int r3) {
        long b = t.size(0);
        long c = t.size(1) / ((long) r1 * r2 * r3);
        long f = t.size(2);
        long h = t.size(3);
        long w = t.size(4);
        return t.view(b, r1, r2, r3, c, f, h, w).permute(0, 4, 5, 1, 6, 2, 7, 3).reshape(b, c, f * r1, h * r2, w * r3);
    }

    /** {@code HunyuanVideo15Downsample._dcae_downsample_rearrange}: (b, c, r1 f, r2 h, r3 w) -> (b, r1 r2 r3 c, f, h, w). */
    static Tensor downsampleRearrange(Tensor t, int r1, int r2, int r3) {
        long b = t.size(0);
        long c = t.size(1);
        long f = t.size(2) / r1;
        long h = t.size(3) / r2;
        long w = t.size(4) / r3;
        return t.view(b, c, f, r1, h, r2, w, r3).permute(0, 3, 5, 7, 1, 2, 4, 6).reshape(b, (long) r1 * r2 * r3 * c, f, h, w);
    }

    /**
     * {@code HunyuanVideo15Upsample}: a causal conv to {@code out * factor} channels unpacked into
     * space (and time), plus a repeat-interleaved shortcut. With temporal upsampling the first frame
     * is only upsampled spatially (first half of the channels), so T frames become 1 + 2(T-1).
     */
    static final class HunyuanVideo15Upsample {
        private final HunyuanVideo15CausalConv3d conv;
        private final boolean addTemporalUpsample;
        private final int repeats;

        HunyuanVideo15Upsample(Params p, int in, int out, boolean addTemporalUpsample) {
            int factor = addTemporalUpsample ? 2 * 2 * 2 : 1 * 2 * 2;
            this.conv = new HunyuanVideo15CausalConv3d(p.child("conv"), in, out * factor, 3);
            this.addTemporalUpsample = addTemporalUpsample;
            this.repeats = factor * out / in;
        }

        Tensor forward(Tensor x) {
            return scoped(() -> {
                int r1 = addTemporalUpsample ? 2 : 1;
                Tensor h = conv.forward(x);
                Tensor shortcut;
                long t = x.size(2);
                if (addTemporalUpsample) {
                    Tensor conv = h;
                    Tensor hFirst = scoped(() -> {
                        Tensor all = upsampleRearrange(frames(conv, 0, 1), 1, 2, 2);
                        return all.narrow(1, 0, all.size(1) / 2);
                    });
                    Tensor xFirst = scoped(
                            () -> repeatInterleave(upsampleRearrange(frames(x, 0, 1), 1, 2, 2), repeats / 2, 1));
                    if (t > 1) { // T = 1 (an image): the "next frames" branch is empty
                        Tensor hNext = scoped(() -> upsampleRearrange(frames(conv, 1, t - 1), r1, 2, 2));
                        h.close();
                        h = cat2(hFirst, hNext, 2);
                        hFirst.close();
                        hNext.close();
                        Tensor xNext = scoped(
                                () -> repeatInterleave(upsampleRearrange(frames(x, 1, t - 1), r1, 2, 2), repeats, 1));
                        shortcut = cat2(xFirst, xNext, 2);
                        xFirst.close();
                        xNext.close();
                    } else {
                        h = hFirst;
                        shortcut = xFirst;
                    }
                } else {
                    // h + unpack(repeat_interleave(x)) == unpack(h_packed + repeat_interleave(x)): the unpack
                    // is a permutation, so add before it, broadcasting x over the repeats instead of
                    // materialising the repeat (same sums, two full-size tensors fewer)
                    try (PointerScope add = new PointerScope()) {
                        h.view(h.size(0), x.size(1), repeats, h.size(2), h.size(3), h.size(4)).add_(x.unsqueeze(2));
                    }
                    Tensor packed = h;
                    h = scoped(() -> upsampleRearrange(packed, r1, 2, 2));
                    packed.close();
                    return h;
                }
                h.add_(shortcut);
                shortcut.close();
                return h;
            });
        }
    }

    /**
     * {@code HunyuanVideo15Downsample}: a causal conv to {@code out / factor} channels packed from
     * space (and time) into channels, plus a group-averaged shortcut. With temporal downsampling the
     * first frame is only downsampled spatially (its channels doubled), so T frames become 1 + (T-1)/2.
     */
    static final class HunyuanVideo15Downsample {
        private final HunyuanVideo15CausalConv3d conv;
        private final boolean addTemporalDownsample;
        private final int groupSize;

        HunyuanVideo15Downsample(Params p, int in, int out, boolean addTemporalDownsample) {
            int factor = addTemporalDownsample ? 2 * 2 * 2 : 1 * 2 * 2;
            this.conv = new HunyuanVideo15CausalConv3d(p.child("conv"), in, out / factor, 3);
            this.addTemporalDownsample = addTemporalDownsample;
            this.groupSize = factor * in / out;
        }

        Tensor forward(Tensor x) {
            return scoped(() -> {
                int r1 = addTemporalDownsample ? 2 : 1;
                Tensor h = conv.forward(x);
                Tensor shortcut;
                long t = x.size(2);
                if (addTemporalDownsample) {
                    Tensor conv = h;
                    Tensor hFirst = scoped(() -> {
                        Tensor first = downsampleRearrange(frames(conv, 0, 1), 1, 2, 2);
                        return cat2(first, first, 1);
                    });
                    long hc = hFirst.size(1);
                    // (B, C, T, H, W) -> (B, hc, group/2, T, H, W) -> mean over the group
                    Tensor xFirst = scoped(() -> {
                        Tensor r = downsampleRearrange(frames(x, 0, 1), 1, 2, 2);
                        return meanDim(r.view(r.size(0), hc, groupSize / 2, r.size(2), r.size(3), r.size(4)), 2);
                    });
                    if (t > 1) { // T = 1 (an image): the "next frames" branch is empty
                        Tensor hNext = scoped(() -> downsampleRearrange(frames(conv, 1, t - 1), r1, 2, 2));
                        h.close();
                        h = cat2(hFirst, hNext, 2);
                        hFirst.close();
                        hNext.close();
                        Tensor xNext = scoped(() -> {
                            Tensor r = downsampleRearrange(frames(x, 1, t - 1), r1, 2, 2);
                            return meanDim(r.view(r.size(0), hc, groupSize, r.size(2), r.size(3), r.size(4)), 2);
                        });
                        shortcut = cat2(xFirst, xNext, 2);
                        xFirst.close();
                        xNext.close();
                    } else {
                        h = hFirst;
                        shortcut = xFirst;
                    }
                } else {
                    Tensor conv = h;
                    h = scoped(() -> downsampleRearrange(conv, r1, 2, 2));
                    conv.close();
                    long hc = h.size(1);
                    shortcut = scoped(() -> {
                        Tensor r = downsampleRearrange(x, r1, 2, 2);
                        return meanDim(r.view(r.size(0), hc, groupSize, r.size(2), r.size(3), r.size(4)), 2);
                    });
                }
                h.add_(shortcut);
                shortcut.close();
                return h;
            });
        }
    }

    /** {@code HunyuanVideo15MidBlock}: resnets.0, attentions.0, resnets.1. */
    static final class HunyuanVideo15MidBlock {
        private final List<HunyuanVideo15ResnetBlock> resnets = new ArrayList<>();
        private final List<HunyuanVideo15AttnBlock> attentions = new ArrayList<>();

        HunyuanVideo15MidBlock(Params p, int channels) {
            Params r = p.child("resnets");
            Params a = p.child("attentions");
            resnets.add(new HunyuanVideo15ResnetBlock(r.child("0"), channels, channels));
            attentions.add(new HunyuanVideo15AttnBlock(a.child("0"), channels));
            resnets.add(new HunyuanVideo15ResnetBlock(r.child("1"), channels, channels));
        }

        Tensor forward(Tensor x) {
            return scoped(() -> {
                Tensor h = resnets.get(0).forward(x);
                for (int i = 0; i < attentions.size(); i++) {
                    Tensor next = attentions.get(i).forward(h);
                    h.close();
                    h = resnets.get(i + 1).forward(next);
                    next.close();
                }
                return h;
            });
        }
    }

    /** {@code HunyuanVideo15DownBlock3D}: resnets, then an optional downsampler. */
    static final class HunyuanVideo15DownBlock3D {
        private final List<HunyuanVideo15ResnetBlock> resnets = new ArrayList<>();
        private final HunyuanVideo15Downsample downsampler;

        HunyuanVideo15DownBlock3D(Params p, int numLayers, int in, int out, Integer downsampleOut, boolean temporal) {
            Params r = p.child("resnets");
            for (int i = 0; i < numLayers; i++) {
                resnets.add(new HunyuanVideo15ResnetBlock(r.child(Integer.toString(i)), i == 0 ? in : out, out));
            }
            this.downsampler = downsampleOut == null ? null
                    : new HunyuanVideo15Downsample(p.child("downsamplers").child("0"), out, downsampleOut, temporal);
        }

        Tensor forward(Tensor x) {
            Tensor h = x;
            for (HunyuanVideo15ResnetBlock resnet : resnets) {
                Tensor next = resnet.forward(h);
                free(h, x);
                h = next;
            }
            if (downsampler != null) {
                Tensor next = downsampler.forward(h);
                free(h, x);
                h = next;
            }
            return h;
        }
    }

    /** {@code HunyuanVideo15UpBlock3D}: resnets, then an optional upsampler. */
    static final class HunyuanVideo15UpBlock3D {
        private final List<HunyuanVideo15ResnetBlock> resnets = new ArrayList<>();
        private final HunyuanVideo15Upsample upsampler;

        HunyuanVideo15UpBlock3D(Params p, int numLayers, int in, int out, Integer upsampleOut, boolean temporal) {
            Params r = p.child("resnets");
            for (int i = 0; i < numLayers; i++) {
                resnets.add(new HunyuanVideo15ResnetBlock(r.child(Integer.toString(i)), i == 0 ? in : out, out));
            }
            this.upsampler = upsampleOut == null ? null
                    : new HunyuanVideo15Upsample(p.child("upsamplers").child("0"), out, upsampleOut, temporal);
        }

        Tensor forward(Tensor x) {
            Tensor h = x;
            for (HunyuanVideo15ResnetBlock resnet : resnets) {
                Tensor next = resnet.forward(h);
                free(h, x);
                h = next;
            }
            if (upsampler != null) {
                Tensor next = upsampler.forward(h);
                free(h, x);
                h = next;
            }
            return h;
        }
    }

    /** {@code HunyuanVideo15Encoder3D}: pixels to moments (2 x latent channels). */
    static final class HunyuanVideo15Encoder3D {
        private final HunyuanVideo15CausalConv3d convIn;
        private final List<HunyuanVideo15DownBlock3D> downBlocks = new ArrayList<>();
        private final HunyuanVideo15MidBlock midBlock;
        private final HunyuanVideo15RmsNorm normOut;
        private final HunyuanVideo15CausalConv3d convOut;
        private final int groupSize;

        HunyuanVideo15Encoder3D(Params p, HunyuanVideo15VaeConfig cfg) {
            int[] boc = cfg.blockOutChannels();
            int outChannels = 2 * cfg.latentChannels();
            this.groupSize = boc[boc.length - 1] / outChannels;
            this.convIn = new HunyuanVideo15CausalConv3d(p.child("conv_in"), cfg.inChannels(), boc[0], 3);
            int spatialLevels = HunyuanVideo15VaeConfig.log2(cfg.spatialCompressionRatio());
            int temporalStart = HunyuanVideo15VaeConfig.log2(cfg.spatialCompressionRatio() / cfg.temporalCompressionRatio());
            int input = boc[0];
            Params blocks = p.child("down_blocks");
            for (int i = 0; i < boc.length; i++) {
                boolean spatial = i < spatialLevels;
                int out = boc[i];
                Params bp = blocks.child(Integer.toString(i));
                if (!spatial) {
                    downBlocks.add(new HunyuanVideo15DownBlock3D(bp, cfg.layersPerBlock(), input, out, null, false));
                    input = out;
                } else {
                    boolean temporal = i >= temporalStart;
                    int dsOut = cfg.downsampleMatchChannel() ? boc[i + 1] : out;
                    downBlocks.add(new HunyuanVideo15DownBlock3D(bp, cfg.layersPerBlock(), input, out, dsOut, temporal));
                    input = dsOut;
                }
            }
            this.midBlock = new HunyuanVideo15MidBlock(p.child("mid_block"), boc[boc.length - 1]);
            this.normOut = new HunyuanVideo15RmsNorm(p.child("norm_out"), boc[boc.length - 1]);
            this.convOut = new HunyuanVideo15CausalConv3d(p.child("conv_out"), boc[boc.length - 1], outChannels, 3);
        }

        Tensor forward(Tensor x) {
            return scoped(() -> {
                Tensor h = convIn.forward(x);
                for (HunyuanVideo15DownBlock3D block : downBlocks) {
                    Tensor next = block.forward(h);
                    h.close();
                    h = next;
                }
                Tensor mid = midBlock.forward(h);
                h.close();
                // (B, C, F, H, W) -> (B, C / group, group, F, H, W) -> mean over the group
                Tensor shortCut = scoped(() -> meanDim(
                        mid.view(mid.size(0), -1, groupSize, mid.size(2), mid.size(3), mid.size(4)), 2));
                Tensor n = normOut.forward(mid);
                mid.close();
                silu_(n);
                h = convOut.forwardConsuming(n);
                return h.add_(shortCut);
            });
        }
    }

    /** {@code HunyuanVideo15Decoder3D}: latents to pixels. */
    static final class HunyuanVideo15Decoder3D {
        private final HunyuanVideo15CausalConv3d convIn;
        private final HunyuanVideo15MidBlock midBlock;
        private final List<HunyuanVideo15UpBlock3D> upBlocks = new ArrayList<>();
        private final HunyuanVideo15RmsNorm normOut;
        private final HunyuanVideo15CausalConv3d convOut;
        private final int repeat;

        HunyuanVideo15Decoder3D(Params p, HunyuanVideo15VaeConfig cfg) {
            int[] enc = cfg.blockOutChannels();
            int[] boc = new int[enc.length];
            for (int i = 0; i < enc.length; i++) {
                boc[i] = enc[enc.length - 1 - i];
            }
            this.repeat = boc[0] / cfg.latentChannels();
            this.convIn = new HunyuanVideo15CausalConv3d(p.child("conv_in"), cfg.latentChannels(), boc[0], 3);
            this.midBlock = new HunyuanVideo15MidBlock(p.child("mid_block"), boc[0]);
            int spatialLevels = HunyuanVideo15VaeConfig.log2(cfg.spatialCompressionRatio());
            int temporalLevels = HunyuanVideo15VaeConfig.log2(cfg.temporalCompressionRatio());
            int input = boc[0];
            Params blocks = p.child("up_blocks");
            for (int i = 0; i < boc.length; i++) {
                int out = boc[i];
                boolean spatial = i < spatialLevels;
                boolean temporal = i < temporalLevels;
                Params bp = blocks.child(Integer.toString(i));
                if (spatial || temporal) {
                    int usOut = cfg.upsampleMatchChannel() ? boc[i + 1] : out;
                    upBlocks.add(new HunyuanVideo15UpBlock3D(bp, cfg.layersPerBlock() + 1, input, out, usOut, temporal));
                    input = usOut;
                } else {
                    upBlocks.add(new HunyuanVideo15UpBlock3D(bp, cfg.layersPerBlock() + 1, input, out, null, false));
                    input = out;
                }
            }
            this.normOut = new HunyuanVideo15RmsNorm(p.child("norm_out"), boc[boc.length - 1]);
            this.convOut = new HunyuanVideo15CausalConv3d(p.child("conv_out"), boc[boc.length - 1], cfg.outChannels(), 3);
        }

        Tensor forward(Tensor z) {
            return scoped(() -> {
                Tensor repeated = repeatInterleave(z, repeat, 1);
                Tensor h = convIn.forward(z).add_(repeated);
                repeated.close();
                Tensor next = midBlock.forward(h);
                h.close();
                h = next;
                for (HunyuanVideo15UpBlock3D block : upBlocks) {
                    next = block.forward(h);
                    h.close();
                    h = next;
                }
                Tensor n = normOut.forward(h);
                h.close();
                silu_(n);
                return convOut.forwardConsuming(n);
            });
        }
    }
}
