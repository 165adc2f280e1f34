package io.diffuse.usp.attention;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.exp;

import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Exact attention of queries over one block of keys returning a {@link Partial} (output and
 * log-sum-exp) in fp32. On the CPU this is libtorch's fused flash kernel that also returns the
 * log-sum-exp ({@code aten::_scaled_dot_product_flash_attention_for_cpu}, the kernel one rank and
 * Ulysses run through SDPA), called through the dispatcher because the presets do not wrap it: no
 * score matrix is materialised. Elsewhere (CUDA, meta), and when {@code diffuse.attention.backend}
 * disallows flash, scores are computed explicitly, queries in chunks so the (B, H, chunk, Sk) score
 * tensor stays bounded.
 */
public final class BlockAttention {
    /** Upper bound on score elements materialised at once (64 Mi floats = 256 MiB). */
    private static final long MAX_SCORE_ELEMENTS = 64L << 20;

    private BlockAttention() {
    }

    /**
     * Attention of {@code query} over {@code key}/{@code value}, scale 1/sqrt(D).
     *
     * @param query (B, Sq, H, D)
     * @param key (B, Sk, H, D)
     * @param value (B, Sk, H, D)
     * @param keyValid (B, Sk) boolean, true for keys that may be seen; null when all may
     * @return the partial result over this block, (B, H, Sq, D) and (B, H, Sq, 1), fp32
     */
    public static Partial attend(Tensor query, Tensor key, Tensor value, Tensor keyValid) {
        if (query.device().is_cpu() && torch.globalContext().userEnabledFlashSDP()) {
            return attendFused(query, key, value, keyValid);
        }
        return attend(query, key, value, keyValid, MAX_SCORE_ELEMENTS);
    }

    /** {@link #attend(Tensor, Tensor, Tensor, Tensor)} by the fused CPU flash kernel. */
    static Partial attendFused(Tensor query, Tensor key, Tensor value, Tensor keyValid) {
        long batch = query.size(0);
        long keys = key.size(1);
        // (B, S, H, D) -> (B, H, S, D), fp32 so partial results merge without rounding drift.
        Tensor q = query.to(ScalarType.Float).transpose(1, 2);
        Tensor k = key.to(ScalarType.Float).transpose(1, 2);
        Tensor v = value.to(ScalarType.Float).transpose(1, 2);
        IValue mask = new IValue();
        if (keyValid != null) {
            // Additive (B, 1, 1, Sk) mask, as SDPA turns a boolean mask into: 0 where seen, -inf where hidden.
            Tensor additive = torch.zeros(new long[] {batch, 1, 1, keys}, new TensorOptions(ScalarType.Float)
                    .device(new org.bytedeco.pytorch.DeviceOptional(query.device())));
            mask = new IValue(additive.masked_fill(keyValid.logical_not().view(batch, 1, 1, keys),
                    new Scalar(Double.NEGATIVE_INFINITY)));
        }
        // _scaled_dot_product_flash_attention_for_cpu(query, key, value, dropout_p, is_causal, *, attn_mask, scale)
        //     -> (output (B, H, Sq, D), logsumexp (B, H, Sq))
        IValueVector stack = new IValueVector(new IValue(q), new IValue(k), new IValue(v), new IValue(0.0),
                new IValue(false), mask, new IValue());
        Dispatcher.singleton().findSchemaOrThrow("aten::_scaled_dot_product_flash_attention_for_cpu", "").callBoxed(stack);
        Tensor out = stack.get(0).toTensor();
        Tensor lse = stack.get(1).toTensor().unsqueeze(-1); // (B, H, Sq, 1)
        if (keyValid != null && !keyValid.any(1).all().item_bool()) {
            // A query with every key hidden saw nothing: (0, -inf), whatever the kernel leaves there.
            Tensor blind = keyValid.any(1).logical_not().view(batch, 1, 1, 1);
            out = out.masked_fill(blind, new Scalar(0.0));
            lse = lse.masked_fill(blind, new Scalar(Double.NEGATIVE_INFINITY));
        }
        return new Partial(out, lse);
    }

    /** The materialised path: at most {@code maxScoreElements} scores at once. */
    static Partial attend(Tensor query, Tensor key, Tensor value, Tensor keyValid, long maxScoreElements) {
        long batch = query.size(0);
        long queries = query.size(1);
        long heads = query.size(2);
        long headDim = query.size(3);
        long keys = key.size(1);
        double scale = 1.0 / Math.sqrt(headDim);
        // (B, S, H, D) -> (B, H, S, D), fp32 so partial results merge without rounding drift.
        Tensor q = query.to(ScalarType.Float).transpose(1, 2);
        Tensor kT = key.to(ScalarType.Float).permute(0, 2, 3, 1); // (B, H, D, Sk)
        Tensor v = value.to(ScalarType.Float).transpose(1, 2); // (B, H, Sk, D)
        Tensor hidden = keyValid == null ? null : keyValid.logical_not().view(batch, 1, 1, keys);
        long chunk = Math.max(1, maxScoreElements / Math.max(1, batch * heads * keys));
        if (chunk >= queries) {
            return attendChunk(q, kT, v, hidden, scale);
        }
        TensorVector outs = new TensorVector();
        TensorVector lses = new TensorVector();
        for (long start = 0; start < queries; start += chunk) {
            Partial p = attendChunk(q.narrow(2, start, Math.min(chunk, queries - start)), kT, v, hidden, scale);
            outs.push_back(p.out());
            lses.push_back(p.lse());
        }
        return new Partial(cat(outs, 2), cat(lses, 2));
    }

    private static Partial attendChunk(Tensor q, Tensor kT, Tensor v, Tensor hidden, double scale) {
        Tensor scores = q.matmul(kT).mul(new Scalar(scale)); // (B, H, Sq, Sk)
        if (hidden != null) {
            scores = scores.masked_fill(hidden, new Scalar(Double.NEGATIVE_INFINITY));
        }
        Tensor lse = scores.logsumexp(new long[] {-1}, true); // (B, H, Sq, 1)
        // A query with every key hidden has lse -inf; subtracting 0 there gives weights exp(-inf) = 0.
        Tensor safe = lse.masked_fill(lse.isneginf(), new Scalar(0.0));
        Tensor out = exp(scores.sub(safe)).matmul(v); // (B, H, Sq, D)
        return new Partial(out, lse);
    }

    /** The empty result (nothing seen) for queries shaped (B, Sq, H, D): output 0, lse -inf. */
    public static Partial nothing(Tensor query) {
        long b = query.size(0);
        long sq = query.size(1);
        long h = query.size(2);
        long d = query.size(3);
        Tensor out = query.new_zeros(new long[] {b, h, sq, d}).to(ScalarType.Float);
        Tensor lse = out.narrow(3, 0, 1).clone().fill_(new Scalar(Double.NEGATIVE_INFINITY));
        return new Partial(out, lse);
    }
}
