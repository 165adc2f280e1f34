package org.example.allgather;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.testkit.ThreadRanks;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The third-party "allgather" attention on real ranks (threads over Gloo) equals single-rank
 * libtorch SDPA over the whole [video; joint] sequence within 1e-5 in fp32 (O(1) inputs; only the
 * summation order differs), for a token count that leaves padding on the last shard, with joint
 * tokens whose key mask hides two of them in one batch entry.
 */
class AllGatherAttentionTest {
    private static final double TOLERANCE = 1e-5;
    private static final int BATCH = 2;
    private static final int HEADS = 3;
    private static final int HEAD_DIM = 8;
    private static final int JOINT = 5;

    @ParameterizedTest(name = "ulysses {0} x ring {1}")
    @CsvSource({"1,2", "2,2", "1,3"})
    void everyRankMatchesSingleRankAttention(int ulysses, int ring) {
        ParallelPlan plan = new ParallelPlan(ulysses * ring, ulysses, ring, 1, 1);
        AllGatherStrategy strategy = new AllGatherStrategy();
        strategy.validate(plan, HEADS);
        long tokens = 4L * plan.sequence() + 1; // not divisible: the last shard is padded
        Tensor q;
        Tensor k;
        Tensor v;
        JointTokens joint;
        Tensor expectedVideo;
        Tensor expectedJoint;
        try (PointerScope scope = new PointerScope()) {
            manual_seed(7);
            q = keep(randn(BATCH, tokens, HEADS, HEAD_DIM));
            k = keep(randn(BATCH, tokens, HEADS, HEAD_DIM));
            v = keep(randn(BATCH, tokens, HEADS, HEAD_DIM));
            Tensor jq = keep(randn(BATCH, JOINT, HEADS, HEAD_DIM));
            Tensor jk = keep(randn(BATCH, JOINT, HEADS, HEAD_DIM));
            Tensor jv = keep(randn(BATCH, JOINT, HEADS, HEAD_DIM));
            // batch 0: the last two joint keys are padding; batch 1: all real.
            Tensor keyMask = ones(BATCH, JOINT).to(ScalarType.Bool);
            keyMask.select(0, 0).narrow(0, JOINT - 2, 2).fill_(new Scalar(0));
            joint = new JointTokens(jq, jk, jv, keep(keyMask));
            // Reference: (B, S+L, H, D) -> SDPA's (B, H, S+L, D), mask (B, 1, 1, S+L) true where a key is visible.
            Tensor mask = cat(new TensorVector(ones(BATCH, tokens).to(ScalarType.Bool), keyMask), 1)
                    .view(BATCH, 1, 1, tokens + JOINT);
            Tensor all = scaled_dot_product_attention(cat(new TensorVector(q, jq), 1).transpose(1, 2),
                    cat(new TensorVector(k, jk), 1).transpose(1, 2), cat(new TensorVector(v, jv), 1).transpose(1, 2),
                    new TensorOptional(mask), 0.0, false, new DoubleOptional(), false).transpose(1, 2);
            expectedVideo = keep(all.narrow(1, 0, tokens).contiguous());
            expectedJoint = keep(all.narrow(1, tokens, JOINT).contiguous());
        }
        ThreadRanks.run(plan, groups -> {
            SequenceParallelAttention attention = strategy.create(groups);
            assertEquals(plan.sequence(), attention.degree());
            try (PointerScope scope = new PointerScope()) {
                SequenceLayout layout = attention.layout(tokens);
                AttentionOutput out = attention.attention(attention.shard(q, 1), attention.shard(k, 1),
                        attention.shard(v, 1), joint, layout);
                int rank = groups.world().rank();
                assertClose(expectedVideo, attention.gather(out.video(), 1, layout), "video on rank " + rank);
                assertClose(expectedJoint, out.joint(), "joint on rank " + rank);
            }
            return null;
        });
    }

    /** Keeps a tensor beyond its scope for the whole test (the GC frees it). */
    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }

    private static void assertClose(Tensor expected, Tensor actual, String what) {
        assertEquals(Arrays.toString(expected.sizes().vec().get()), Arrays.toString(actual.sizes().vec().get()), what + ": shape");
        double diff = expected.sub(actual).abs().max().item_double();
        assertTrue(diff <= TOLERANCE, what + ": max |difference| " + diff + " exceeds " + TOLERANCE);
    }
}
