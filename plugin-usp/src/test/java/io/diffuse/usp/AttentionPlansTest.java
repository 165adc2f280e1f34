package io.diffuse.usp;

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
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.testkit.ThreadRanks;
import java.util.ArrayList;
import java.util.List;
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
 * Sequence-parallel attention under every plan equals single-rank attention (libtorch SDPA over the
 * whole [video; joint] sequence) within 1e-5 in fp32 (O(1) inputs; only summation order differs), for
 * token counts divisible and not divisible by the group size (including a wholly padded shard), with
 * and without joint tokens and a joint key mask. The joint output must also be bit-identical on all
 * ranks. Ranks are threads over Gloo.
 */
class AttentionPlansTest {
    private static final double TOLERANCE = 1e-5;
    private static final int HEADS = 12;
    private static final int HEAD_DIM = 8;
    private static final int BATCH = 2;
    private static final int JOINT = 5;

    /** One attention problem: full inputs and the single-rank reference. */
    record Problem(long tokens, boolean withJoint, boolean withMask, Tensor q, Tensor k, Tensor v, JointTokens joint,
            Tensor expectedVideo, Tensor expectedJoint) {
    }

    @ParameterizedTest(name = "{0}: ulysses {1} x ring {2}")
    @CsvSource({"ulysses,2,1", "ring,1,2", "usp,2,2", "ulysses,4,1", "ring,1,4", "ring,1,3", "ulysses,3,1",
            "usp,3,2"})
    void everyPlanMatchesSingleRank(String strategyName, int ulysses, int ring) {
        ParallelStrategy strategy = strategy(strategyName);
        ParallelPlan plan = new ParallelPlan(ulysses * ring, ulysses, ring, 1, 1);
        strategy.validate(plan, HEADS);
        int degree = plan.sequence();
        List<Problem> problems = new ArrayList<>();
        // divisible, not divisible, fewer tokens than 2 per rank (a wholly padded shard when degree >= 4)
        long[] tokenCounts = {4L * degree, 4L * degree + 1, degree + 1};
        long seed = 1;
        for (long tokens : tokenCounts) {
            problems.add(problem(tokens, false, false, seed++));
            problems.add(problem(tokens, true, false, seed++));
            problems.add(problem(tokens, true, true, seed++));
        }
        List<List<Tensor>> jointByRank = ThreadRanks.run(plan, groups -> {
            SequenceParallelAttention attention = strategy.create(groups);
            List<Tensor> joints = new ArrayList<>();
            for (Problem p : problems) {
                try (PointerScope scope = new PointerScope()) {
                    SequenceLayout layout = attention.layout(p.tokens());
                    AttentionOutput out = attention.attention(attention.shard(p.q(), 1), attention.shard(p.k(), 1),
                            attention.shard(p.v(), 1), p.joint(), layout);
                    assertEquals(layout.shardLength(), out.video().size(1));
                    Tensor video = attention.gather(out.video(), 1, layout);
                    assertClose(p.expectedVideo(), video, describe(p, "video", groups.world().rank()));
                    if (p.withJoint()) {
                        assertClose(p.expectedJoint(), out.joint(), describe(p, "joint", groups.world().rank()));
                        joints.add(out.joint().clone().retainReference());
                    } else {
                        assertTrue(out.joint() == null, "no joint tokens, no joint output");
                    }
                }
            }
            return joints;
        });
        for (int rank = 1; rank < jointByRank.size(); rank++) {
            for (int i = 0; i < jointByRank.get(0).size(); i++) {
                assertTrue(jointByRank.get(0).get(i).equal(jointByRank.get(rank).get(i)),
                        "joint output of rank " + rank + " differs from rank 0 (problem " + i + ")");
            }
        }
    }

    static ParallelStrategy strategy(String name) {
        return switch (name) {
            case "ulysses" -> new UlyssesStrategy();
            case "ring" -> new RingStrategy();
            case "usp" -> new UspStrategy();
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static String describe(Problem p, String part, int rank) {
        return part + " on rank " + rank + ", " + p.tokens() + " tokens, joint " + p.withJoint() + ", mask "
                + p.withMask();
    }

    static Problem problem(long tokens, boolean withJoint, boolean withMask, long seed) {
        Tensor q;
        Tensor k;
        Tensor v;
        JointTokens joint = null;
        Tensor expectedVideo;
        Tensor expectedJoint = null;
        try (PointerScope scope = new PointerScope()) {
            manual_seed(seed);
            q = randn(BATCH, tokens, HEADS, HEAD_DIM);
            k = randn(BATCH, tokens, HEADS, HEAD_DIM);
            v = randn(BATCH, tokens, HEADS, HEAD_DIM);
            Tensor queries = q;
            Tensor keys = k;
            Tensor values = v;
            Tensor mask = null;
            if (withJoint) {
                Tensor jq = randn(BATCH, JOINT, HEADS, HEAD_DIM);
                Tensor jk = randn(BATCH, JOINT, HEADS, HEAD_DIM);
                Tensor jv = randn(BATCH, JOINT, HEADS, HEAD_DIM);
                Tensor keyMask = null;
                if (withMask) {
                    // batch 0: last two joint keys are padding; batch 1: all real.
                    keyMask = ones(BATCH, JOINT).to(ScalarType.Bool);
                    keyMask.select(0, 0).narrow(0, JOINT - 2, 2).fill_(new Scalar(0));
                    mask = cat(new TensorVector(ones(BATCH, tokens).to(ScalarType.Bool), keyMask), 1)
                            .view(BATCH, 1, 1, tokens + JOINT);
                }
                joint = new JointTokens(keep(jq), keep(jk), keep(jv), keyMask == null ? null : keep(keyMask));
                queries = cat(new TensorVector(q, jq), 1);
                keys = cat(new TensorVector(k, jk), 1);
                values = cat(new TensorVector(v, jv), 1);
            }
            Tensor all = scaled_dot_product_attention(queries.transpose(1, 2), keys.transpose(1, 2),
                    values.transpose(1, 2), mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, false,
                    new DoubleOptional(), false).transpose(1, 2);
            expectedVideo = keep(all.narrow(1, 0, tokens).contiguous());
            if (withJoint) {
                expectedJoint = keep(all.narrow(1, tokens, JOINT).contiguous());
            }
            keep(q);
            keep(k);
            keep(v);
        }
        return new Problem(tokens, withJoint, withMask, q, k, v, joint, expectedVideo, expectedJoint);
    }

    /** Keeps a tensor beyond its scope for the whole test (the GC frees it). */
    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }

    static void assertClose(Tensor expected, Tensor actual, String what) {
        assertEquals(java.util.Arrays.toString(expected.sizes().vec().get()),
                java.util.Arrays.toString(actual.sizes().vec().get()), what + ": shape");
        double diff = expected.sub(actual).abs().max().item_double();
        assertTrue(diff <= TOLERANCE, what + ": max |difference| " + diff + " exceeds " + TOLERANCE);
    }
}
