package io.diffuse.testkit.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.testkit.ThreadRanks;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * What every sequence-parallel strategy must do, in the style of Trino's BaseConnectorTest: a
 * strategy's test is a subclass that says how to make the strategy and which plans it runs. On real
 * ranks (threads over Gloo, {@link ThreadRanks}), for every plan, for token counts that fill, pad and
 * leave empty the last shard, with and without joint tokens (one batch entry hiding two), every rank's output
 * equals single-rank libtorch SDPA over the whole [video; joint] sequence within {@link #tolerance()}.
 */
public abstract class ParallelStrategyContract {
    /** A fresh strategy under test. */
    protected abstract ParallelStrategy strategy();

    /** Plans (world, ulysses, ring) the strategy must run exactly; cfg 1, vae 1. */
    protected abstract List<ParallelPlan> plans();

    /** A plan the strategy must refuse in {@link ParallelStrategy#validate} for {@link #heads()} heads, if any. */
    protected Optional<ParallelPlan> unsupportedPlan() {
        return Optional.empty();
    }

    /** Attention heads of the test inputs (the Ulysses degrees of {@link #plans()} must divide it). */
    protected int heads() {
        return 12;
    }

    /**
     * Max abs difference allowed against single-rank SDPA: fp32 with O(1) inputs, where only the
     * summation order differs (blockwise softmax merges, all-to-all reordering).
     */
    protected double tolerance() {
        return 1e-5;
    }

    @Test
    void hasANameAndADescription() {
        ParallelStrategy s = strategy();
        assertFalse(s.name().isBlank(), "name");
        assertEquals(s.name().trim().toLowerCase(java.util.Locale.ROOT), s.name(), "names are lower case, as configuration writes them");
        assertFalse(s.description().isBlank(), "description for diffuse info");
    }

    @TestFactory
    Stream<DynamicTest> everyPlanEqualsSingleRankAttention() {
        return plans().stream().map(plan -> DynamicTest.dynamicTest(describe(plan), () -> check(plan)));
    }

    @Test
    void refusesAPlanItCannotRun() {
        Optional<ParallelPlan> bad = unsupportedPlan();
        bad.ifPresent(plan -> assertThrows(IllegalArgumentException.class, () -> strategy().validate(plan, heads()),
                "validate(" + plan + ", " + heads() + " heads) must refuse"));
    }

    private static String describe(ParallelPlan plan) {
        return "ulysses " + plan.ulysses() + " x ring " + plan.ring();
    }

    /**
     * Token counts divisible and not divisible by the group size, and fewer than 2 per rank (a wholly
     * padded shard from 4 ranks on); each with masked joint tokens and with none. The joint output is
     * also the same bits on every rank.
     */
    private void check(ParallelPlan plan) {
        ParallelStrategy strategy = strategy();
        strategy.validate(plan, heads());
        int degree = plan.sequence();
        List<AttentionInputs> problems = new java.util.ArrayList<>();
        long seed = 1;
        for (long tokens : new long[] {4L * degree, 4L * degree + 1, degree + 1}) {
            problems.add(AttentionInputs.random(2, tokens, heads(), 8, 5, seed++));
            problems.add(AttentionInputs.random(2, tokens, heads(), 8, 0, seed++));
        }
        List<List<Tensor>> joints = ThreadRanks.run(plan, groups -> {
            SequenceParallelAttention attention = strategy.create(groups);
            assertEquals(degree, attention.degree(), "degree");
            int rank = groups.world().rank();
            List<Tensor> jointOutputs = new java.util.ArrayList<>();
            try (PointerScope scope = new PointerScope()) {
                for (AttentionInputs in : problems) {
                    long tokens = in.query().size(1);
                    SequenceLayout layout = attention.layout(tokens);
                    AttentionOutput out = attention.attention(attention.shard(in.query(), 1), attention.shard(in.key(), 1),
                            attention.shard(in.value(), 1), in.joint(), layout);
                    String what = describe(plan) + ", " + tokens + " tokens" + (in.joint() != null ? " + joint" : "")
                            + ", rank " + rank;
                    Tensors.assertClose(in.expectedVideo(), attention.gather(out.video(), 1, layout), tolerance(), "video of " + what);
                    if (in.joint() != null) {
                        Tensors.assertClose(in.expectedJoint(), out.joint(), tolerance(), "joint of " + what);
                        Tensor kept = out.joint().contiguous();
                        kept.retainReference();
                        jointOutputs.add(kept);
                    }
                }
            }
            return jointOutputs;
        });
        for (int r = 1; r < joints.size(); r++) {
            for (int i = 0; i < joints.get(0).size(); i++) {
                Tensors.assertBitIdentical(joints.get(0).get(i), joints.get(r).get(i), "joint output of rank " + r + " vs rank 0");
            }
        }
    }
}
