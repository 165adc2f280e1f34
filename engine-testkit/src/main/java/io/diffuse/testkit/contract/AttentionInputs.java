package io.diffuse.testkit.contract;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;

import io.diffuse.api.parallel.JointTokens;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Seeded attention inputs (B, S, H, D) and the single-rank reference: libtorch SDPA over the whole
 * [video; joint] sequence, keys hidden where the joint key mask is false. Held for the test's life.
 */
record AttentionInputs(Tensor query, Tensor key, Tensor value, JointTokens joint, Tensor expectedVideo, Tensor expectedJoint) {
    static AttentionInputs random(int batch, long tokens, int heads, int headDim, int jointTokens, long seed) {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(seed);
            Tensor q = keep(randn(batch, tokens, heads, headDim));
            Tensor k = keep(randn(batch, tokens, heads, headDim));
            Tensor v = keep(randn(batch, tokens, heads, headDim));
            if (jointTokens == 0) {
                Tensor all = scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                        new TensorOptional(), 0.0, false, new DoubleOptional(), false).transpose(1, 2);
                return new AttentionInputs(q, k, v, null, keep(all.contiguous()), null);
            }
            Tensor jq = keep(randn(batch, jointTokens, heads, headDim));
            Tensor jk = keep(randn(batch, jointTokens, heads, headDim));
            Tensor jv = keep(randn(batch, jointTokens, heads, headDim));
            // batch 0: the last two joint keys are padding; the others: all real.
            Tensor keyMask = ones(batch, jointTokens).to(ScalarType.Bool);
            keyMask.select(0, 0).narrow(0, jointTokens - 2, 2).fill_(new Scalar(0));
            JointTokens joint = new JointTokens(jq, jk, jv, keep(keyMask));
            // (B, S+L, H, D) -> SDPA's (B, H, S+L, D); mask (B, 1, 1, S+L), true where a key is visible.
            Tensor mask = cat(new TensorVector(ones(batch, tokens).to(ScalarType.Bool), keyMask), 1)
                    .view(batch, 1, 1, tokens + jointTokens);
            Tensor all = scaled_dot_product_attention(cat(new TensorVector(q, jq), 1).transpose(1, 2),
                    cat(new TensorVector(k, jk), 1).transpose(1, 2), cat(new TensorVector(v, jv), 1).transpose(1, 2),
                    new TensorOptional(mask), 0.0, false, new DoubleOptional(), false).transpose(1, 2);
            return new AttentionInputs(q, k, v, joint, keep(all.narrow(1, 0, tokens).contiguous()),
                    keep(all.narrow(1, tokens, jointTokens).contiguous()));
        }
    }

    /** Keeps a tensor beyond its scope for the whole test (the GC frees it). */
    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }
}
