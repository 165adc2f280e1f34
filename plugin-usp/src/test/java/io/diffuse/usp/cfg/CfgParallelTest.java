package io.diffuse.usp.cfg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.testkit.ThreadRanks;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * CFG parallel through {@link io.diffuse.api.dist.ProcessGroups#combineGuidance} on real thread-rank
 * groups: cond on cfg rank 0, uncond on cfg rank 1, combined as uncond + s*(cond - uncond) with
 * the same bits on every rank. Expected values are computed with the same fp32 ops on one thread, so
 * the comparison is exact (tolerance 0).
 */
class CfgParallelTest {
    private static final double SCALE = 6.0;

    @Test
    void combinesCondAndUncondIdenticallyOnEveryRank() {
        // cfg 2 x ulysses 2: cfg groups pair rank i with rank i + 2.
        ParallelPlan plan = new ParallelPlan(4, 2, 1, 2, 1);
        List<float[]> results = ThreadRanks.run(plan, groups -> {
            try (PointerScope scope = new PointerScope()) {
                boolean conditional = groups.runsConditional();
                assertEquals(groups.world().rank() < 2, conditional, "sequence block 0 runs the conditional pass");
                Tensor cond = prediction(1);
                Tensor uncond = prediction(2);
                Tensor combined = groups.combineGuidance(conditional ? cond : uncond, SCALE);
                Tensor expected = uncond.add(cond.sub(uncond).mul(new Scalar(SCALE)));
                assertTrue(expected.equal(combined), "combine on rank " + groups.world().rank());
                return toArray(combined);
            }
        });
        for (int rank = 1; rank < results.size(); rank++) {
            assertTrue(java.util.Arrays.equals(results.get(0), results.get(rank)), "rank " + rank + " differs");
        }
    }

    @Test
    void cfgGroupOfOtherSizeIsAClearError() {
        ParallelPlan plan = new ParallelPlan(2, 2, 1, 1, 1);
        List<String> messages = ThreadRanks.run(plan, groups -> assertThrows(DiffuseException.class,
                () -> groups.combineGuidance(prediction(1), SCALE)).getMessage());
        assertTrue(ThreadRanks.run(plan, groups -> groups.runsConditional()).stream().allMatch(b -> b), "cfg 1: every rank runs the conditional pass");
        assertTrue(messages.get(0).contains("cfg group of 2 ranks"), messages.get(0));
    }

    /** Seeded by its own generator: ranks are threads here, and the global generator is shared by them. */
    private static Tensor prediction(long seed) {
        return org.bytedeco.pytorch.global.torch.randn(new long[] {1, 4, 2, 3, 3},
                new org.bytedeco.pytorch.GeneratorOptional(org.bytedeco.pytorch.global.torch.createCPUGenerator(seed)),
                new org.bytedeco.pytorch.TensorOptions(org.bytedeco.pytorch.global.torch.ScalarType.Float));
    }

    private static float[] toArray(Tensor t) {
        Tensor flat = t.contiguous().view(-1);
        float[] values = new float[(int) flat.numel()];
        new org.bytedeco.javacpp.FloatPointer(flat.data_ptr_float()).get(values);
        return values;
    }
}
