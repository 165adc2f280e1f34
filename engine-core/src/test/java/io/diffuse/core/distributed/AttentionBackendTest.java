package io.diffuse.core.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.runtime.DeviceOps;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * diffuse.attention.backend on the CPU: each CPU choice computes the same attention as the default
 * (within fp32 rounding: the kernels sum in different orders), and the choice is the backend libtorch
 * actually dispatches to (its own {@code _fused_sdp_choice}, the function scaled_dot_product_attention
 * asks), so a choice that did nothing would fail here.
 */
class AttentionBackendTest {
    /** fp32 attention over 300 keys of dimension 64: the kernels' different summation orders stay below this. */
    private static final double FP32_TOLERANCE = 1e-5;

    @AfterEach
    void restoreDefault() {
        AttentionBackend.apply("auto");
    }

    /** libtorch's SDPBackend ordinal that scaled_dot_product_attention would run for these inputs. */
    private static long fusedChoice(Tensor q, Tensor k, Tensor v, Tensor mask) {
        IValueVector stack = new IValueVector(new IValue(q), new IValue(k), new IValue(v),
                mask == null ? new IValue() : new IValue(mask), new IValue(0.0), new IValue(false), new IValue(),
                new IValue(false));
        Dispatcher.singleton().findSchemaOrThrow("aten::_fused_sdp_choice", "").callBoxed(stack);
        return stack.get(0).toInt();
    }

    /** softmax(q k^T / sqrt(d) + mask) v, written out in fp64. */
    private static Tensor reference(Tensor q, Tensor k, Tensor v, Tensor mask) {
        Tensor q64 = q.to(ScalarType.Double);
        Tensor scores = q64.matmul(k.to(ScalarType.Double).transpose(-2, -1)).div(new Scalar(Math.sqrt(q.size(-1))));
        if (mask != null) {
            scores = scores.masked_fill(mask.logical_not(), new Scalar(Double.NEGATIVE_INFINITY));
        }
        return scores.softmax(-1).matmul(v.to(ScalarType.Double)).to(ScalarType.Float);
    }

    private static double maxDiff(Tensor a, Tensor b) {
        return a.sub(b).abs().max().item_double();
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto", "flash", "math"})
    void everyCpuChoiceComputesTheDefaultsAttention(String backend) {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(7);
            Tensor q = torch.randn(2, 4, 300, 64);
            Tensor k = torch.randn(2, 4, 300, 64);
            Tensor v = torch.randn(2, 4, 300, 64);
            // Key mask as the engine uses it (padding and masked text keys): (B, 1, 1, S).
            Tensor mask = torch.arange(new Scalar(300), new TensorOptions(ScalarType.Long)).lt(new Scalar(270))
                    .view(1, 1, 1, 300).expand(2, 1, 1, 300).contiguous();
            for (Tensor m : new Tensor[] {null, mask}) {
                Tensor byDefault = DeviceOps.attention(q, k, v, m, null);
                AttentionBackend.apply(backend);
                Tensor chosen = DeviceOps.attention(q, k, v, m, null);
                AttentionBackend.apply("auto");
                assertTrue(maxDiff(chosen, byDefault) <= FP32_TOLERANCE, backend + " against the default: " + maxDiff(chosen, byDefault));
                assertTrue(maxDiff(chosen, reference(q, k, v, m)) <= FP32_TOLERANCE, backend + " against fp64");
            }
        }
    }

    @Test
    void theChoiceIsTheBackendLibtorchRuns() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(7);
            Tensor q = torch.randn(1, 4, 300, 64);
            Tensor k = torch.randn(1, 4, 300, 64);
            Tensor v = torch.randn(1, 4, 300, 64);
            AttentionBackend.apply("auto");
            assertEquals(torch.SDPBackend.flash_attention.value, fusedChoice(q, k, v, null), "CPU default: fused flash kernel");
            AttentionBackend.apply("flash");
            assertEquals(torch.SDPBackend.flash_attention.value, fusedChoice(q, k, v, null));
            Tensor flash = DeviceOps.attention(q, k, v, null, null);
            AttentionBackend.apply("math");
            assertEquals(torch.SDPBackend.math.value, fusedChoice(q, k, v, null));
            Tensor math = DeviceOps.attention(q, k, v, null, null);
            // Same attention, different kernels: blocked online softmax against a full softmax.
            assertFalse(torch.equal(flash, math), "math and flash ran the same kernel");
            assertTrue(maxDiff(flash, math) <= FP32_TOLERANCE);
        }
    }

    @Test
    void aCudaOnlyChoiceLeavesTheCpuNoKernel() {
        // Settings refuse this choice on cpu before any rank starts (EngineSettingsTest); this is what
        // the refusal saves a user from: libtorch has no CPU kernel left to run.
        try (PointerScope scope = new PointerScope()) {
            Tensor q = torch.randn(1, 2, 8, 16);
            AttentionBackend.apply("cudnn");
            RuntimeException e = assertThrows(RuntimeException.class, () -> DeviceOps.attention(q, q, q, null, null));
            assertTrue(e.getMessage().contains("No viable backend"), e.getMessage());
        }
    }

    @Test
    void unknownNameIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> AttentionBackend.apply("fastest"));
    }
}
