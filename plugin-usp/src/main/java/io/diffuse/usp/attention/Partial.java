package io.diffuse.usp.attention;

import static org.bytedeco.pytorch.global.torch.exp;

import org.bytedeco.pytorch.Tensor;

/**
 * Attention of some queries over one block of keys, with the log-sum-exp of their scores, so that
 * results over disjoint key blocks can be merged exactly: the form ring attention accumulates.
 *
 * @param out (B, H, Sq, D) fp32, softmax-weighted values over this block's keys (zero where a query
 *        saw no key)
 * @param lse (B, H, Sq, 1) fp32, log-sum-exp of the scaled scores; -inf where a query saw no key
 */
public record Partial(Tensor out, Tensor lse) {
    /**
     * This result merged with {@code other} (attention over the union of both key blocks), in fp32.
     * Uses {@code lse' = logaddexp(lse_a, lse_b)}, {@code out' = exp(lse_a - lse')*out_a +
     * exp(lse_b - lse')*out_b}: both weights are in [0, 1], so it is as stable as the sigmoid form,
     * and a query that saw no key on either side stays (0, -inf) instead of turning into NaN.
     */
    public Partial merge(Partial other) {
        Tensor merged = lse.logaddexp(other.lse);
        // -inf - -inf would be NaN: where nothing was seen anywhere, subtract 0 instead (weights become 0).
        Tensor safe = merged.masked_fill(merged.isneginf(), new org.bytedeco.pytorch.Scalar(0.0));
        Tensor weightA = exp(lse.sub(safe));
        Tensor weightB = exp(other.lse.sub(safe));
        return new Partial(out.mul(weightA).add(other.out.mul(weightB)), merged);
    }
}
