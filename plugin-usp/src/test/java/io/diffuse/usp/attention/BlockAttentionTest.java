package io.diffuse.usp.attention;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * Block attention with log-sum-exp merged over key blocks equals one softmax over all keys. Reference:
 * libtorch SDPA over the concatenated keys. Tolerance 1e-5 (fp32, O(1) values): the merge is exact up to
 * float rounding of a few exp/log operations.
 */
class BlockAttentionTest {
    private static final double TOLERANCE = 1e-5;

    @Test
    void mergedBlocksEqualFullAttention() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(7);
            Tensor q = randn(2, 5, 3, 8);
            Tensor k = randn(2, 11, 3, 8);
            Tensor v = randn(2, 11, 3, 8);
            Tensor expected = sdpa(q, k, v, null);
            Partial merged = BlockAttention.attend(q, k.narrow(1, 0, 4), v.narrow(1, 0, 4), null)
                    .merge(BlockAttention.attend(q, k.narrow(1, 4, 3), v.narrow(1, 4, 3), null))
                    .merge(BlockAttention.attend(q, k.narrow(1, 7, 4), v.narrow(1, 7, 4), null));
            assertClose(expected, merged.out().transpose(1, 2));
        }
    }

    @Test
    void fullyMaskedBlockContributesNothingAndNoNan() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(11);
            Tensor q = randn(2, 4, 2, 8);
            Tensor k = randn(2, 6, 2, 8);
            Tensor v = randn(2, 6, 2, 8);
            Tensor allHidden = ones(2, 3).to(ScalarType.Bool).logical_not();
            Partial hidden = BlockAttention.attend(q, k.narrow(1, 0, 3), v.narrow(1, 0, 3), allHidden);
            assertTrue(hidden.lse().isneginf().all().item_bool(), "lse of a fully masked block is -inf");
            assertEquals(0.0, hidden.out().abs().max().item_float(), "output of a fully masked block is 0");
            // Merging two "nothing" partials stays (0, -inf), never NaN.
            Partial none = hidden.merge(BlockAttention.nothing(q));
            assertFalse(none.out().isnan().any().item_bool());
            assertTrue(none.lse().isneginf().all().item_bool());
            Partial merged = hidden.merge(BlockAttention.attend(q, k.narrow(1, 3, 3), v.narrow(1, 3, 3), null));
            assertClose(sdpa(q, k.narrow(1, 3, 3), v.narrow(1, 3, 3), null), merged.out().transpose(1, 2));
        }
    }

    @Test
    void partialMaskMatchesMaskedSdpa() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(3);
            Tensor q = randn(2, 4, 2, 8);
            Tensor k = randn(2, 7, 2, 8);
            Tensor v = randn(2, 7, 2, 8);
            // batch 0: last two keys hidden; batch 1: first key hidden.
            Tensor valid = ones(2, 7).to(ScalarType.Bool);
            valid.select(0, 0).narrow(0, 5, 2).fill_(new org.bytedeco.pytorch.Scalar(0));
            valid.select(0, 1).narrow(0, 0, 1).fill_(new org.bytedeco.pytorch.Scalar(0));
            Partial p = BlockAttention.attend(q, k, v, valid);
            assertClose(sdpa(q, k, v, valid), p.out().transpose(1, 2));
        }
    }

    @Test
    void queryChunkingDoesNotChangeTheResult() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(5);
            Tensor q = randn(2, 23, 3, 4);
            Tensor k = randn(2, 10, 3, 4);
            Tensor v = randn(2, 10, 3, 4);
            // 2 x 3 x 10 scores per query and a bound of 200: chunks of 3 queries, the last one shorter.
            assertClose(sdpa(q, k, v, null), BlockAttention.attend(q, k, v, null, 200).out().transpose(1, 2));
        }
    }

    @Test
    void fusedKernelEqualsMaterialisedScoresIncludingMasksAndBlindQueries() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(13);
            Tensor q = randn(3, 37, 2, 16);
            Tensor k = randn(3, 53, 2, 16);
            Tensor v = randn(3, 53, 2, 16);
            // batch 0: all keys seen; batch 1: some hidden; batch 2: every key hidden.
            Tensor valid = ones(3, 53).to(ScalarType.Bool);
            valid.select(0, 1).narrow(0, 40, 13).fill_(new org.bytedeco.pytorch.Scalar(0));
            valid.select(0, 2).fill_(new org.bytedeco.pytorch.Scalar(0));
            for (Tensor mask : new Tensor[] {null, valid}) {
                Partial fused = BlockAttention.attendFused(q, k, v, mask);
                Partial explicit = BlockAttention.attend(q, k, v, mask, 1L << 20);
                assertClose(explicit.out(), fused.out());
                assertTrue(fused.lse().isneginf().equal(explicit.lse().isneginf()), "the same queries saw nothing");
                Tensor seen = explicit.lse().isneginf().logical_not();
                assertClose(explicit.lse().masked_select(seen), fused.lse().masked_select(seen));
                assertFalse(fused.out().isnan().any().item_bool() || fused.lse().isnan().any().item_bool());
            }
        }
    }

    @Test
    void attendUsesTheFusedKernelOnlyWhileFlashIsAllowed() {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(17);
            Tensor q = randn(1, 64, 2, 32);
            Tensor k = randn(1, 96, 2, 32);
            Tensor v = randn(1, 96, 2, 32);
            Tensor fused = BlockAttention.attendFused(q, k, v, null).out();
            Tensor explicit = BlockAttention.attend(q, k, v, null, 1L << 20).out();
            // Same attention, different kernels: they differ in the last bits, so which one ran is visible.
            assertFalse(org.bytedeco.pytorch.global.torch.equal(fused, explicit));
            assertTrue(org.bytedeco.pytorch.global.torch.equal(fused, BlockAttention.attend(q, k, v, null).out()));
            org.bytedeco.pytorch.global.torch.globalContext().setSDPUseFlash(false); // diffuse.attention.backend = math
            try {
                assertTrue(org.bytedeco.pytorch.global.torch.equal(explicit, BlockAttention.attend(q, k, v, null).out()));
            } finally {
                org.bytedeco.pytorch.global.torch.globalContext().setSDPUseFlash(true);
            }
        }
    }

    static Tensor sdpa(Tensor q, Tensor k, Tensor v, Tensor valid) {
        TensorOptional mask = valid == null ? new TensorOptional()
                : new TensorOptional(valid.view(valid.size(0), 1, 1, valid.size(1)));
        return scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, 0.0, false,
                new DoubleOptional(), false).transpose(1, 2);
    }

    static void assertClose(Tensor expected, Tensor actual) {
        assertEquals(java.util.Arrays.toString(expected.sizes().vec().get()),
                java.util.Arrays.toString(actual.sizes().vec().get()), "shape");
        double diff = expected.sub(actual.to(expected.scalar_type())).abs().max().item_double();
        assertTrue(diff <= TOLERANCE, "max |difference| " + diff + " exceeds " + TOLERANCE);
    }

}
