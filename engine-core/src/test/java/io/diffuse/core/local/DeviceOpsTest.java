package io.diffuse.core.local;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.runtime.DeviceOps;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * engine-api's DeviceOps: on the CPU each op is libtorch's; on meta each shape path gives the shape
 * the CPU kernel gives for the same arguments, and refuses a CPU tensor mixed in, as libtorch does.
 */
class DeviceOpsTest {
    private static final Device META = new Device("meta");

    private static Tensor meta(Tensor t) {
        return t == null ? null : t.to(META, t.scalar_type());
    }

    /** The op on CPU tensors and on their meta copies: same shape, result on meta. */
    private static void sameShape(String what, Function<Tensor[], Tensor> op, Tensor... cpu) {
        Tensor[] onMeta = new Tensor[cpu.length];
        for (int i = 0; i < cpu.length; i++) {
            onMeta[i] = meta(cpu[i]);
        }
        Tensor expected = op.apply(cpu);
        Tensor actual = op.apply(onMeta);
        assertTrue(actual.device().is_meta(), what + " result on meta");
        assertArrayEquals(expected.sizes().vec().get(), actual.sizes().vec().get(), what);
        assertEquals(expected.scalar_type().value, actual.scalar_type().value, what + " dtype");
    }

    @Test
    void metaShapesMatchTheCpuKernels() {
        try (PointerScope scope = new PointerScope()) {
            sameShape("conv3d", t -> DeviceOps.conv(t[0], t[1], t[2], new long[] {1, 2, 2}, new long[] {0, 1, 1}),
                    torch.randn(2, 3, 5, 9, 7), torch.randn(4, 3, 1, 3, 3), torch.randn(4));
            sameShape("conv2d", t -> DeviceOps.conv(t[0], t[1], null, new long[] {7, 7}, new long[] {0, 0}),
                    torch.randn(1, 3, 28, 28), torch.randn(8, 3, 7, 7));
            sameShape("layer_norm", t -> DeviceOps.layerNorm(t[0], t[1], t[2], 1e-6), torch.randn(2, 5, 8), torch.randn(8),
                    torch.randn(8));
            sameShape("attention", t -> DeviceOps.attention(t[0], t[1], t[2], t[3], 0.5), torch.randn(1, 2, 5, 8),
                    torch.randn(1, 2, 7, 8), torch.randn(1, 2, 7, 6), torch.ones(new long[] {1, 1, 1, 7},
                            new TensorOptions(ScalarType.Bool)));
            Tensor index = torch.arange(new org.bytedeco.pytorch.Scalar(3), new TensorOptions(ScalarType.Long));
            sameShape("index_select", t -> DeviceOps.indexSelect(t[0], 1, t[1]), torch.randn(2, 6, 4), index);
            sameShape("embedding", t -> DeviceOps.embedding(t[0], t[1]), torch.randn(10, 4), index.reshape(1, 3));
            sameShape("abs", t -> DeviceOps.abs(t[0]), torch.randn(3, 3));
            sameShape("where", t -> DeviceOps.where(t[0].gt(new org.bytedeco.pytorch.Scalar(0)), t[0], t[1]), torch.randn(3, 3),
                    torch.randn(3, 3));
        }
    }

    @Test
    void onTheCpuEachOpIsLibtorchs() {
        try (PointerScope scope = new PointerScope()) {
            Tensor got = DeviceOps.nonzeroIndex(Tensor.create(new long[] {1, 0, 1, 1}, 4));
            assertTrue(got.equal(Tensor.create(new long[] {0, 2, 3}, 3)), "positions of the non-zero entries");
            Tensor x = torch.randn(2, 5, 8);
            assertEquals(0.0, DeviceOps.layerNorm(x, null, null, 1e-6).sub(torch.layer_norm(x, new long[] {8},
                    new org.bytedeco.pytorch.TensorOptional(), new org.bytedeco.pytorch.TensorOptional(), 1e-6, false)).abs().max()
                    .item_double());
            assertTrue(DeviceOps.allZero(torch.zeros(3)));
            assertFalse(DeviceOps.allZero(torch.ones(3)));
        }
    }

    @Test
    void aCpuTensorMixedIntoMetaWorkIsRefused() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = meta(torch.randn(1, 3, 5, 8, 8));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> DeviceOps.conv(x, torch.randn(4, 3, 1, 1, 1), null, new long[] {1, 1, 1}, new long[] {0, 0, 0}));
            assertEquals("Expected all tensors to be on the same device, but found at least two devices, meta and cpu! (conv3d)",
                    e.getMessage());
            Tensor q = meta(torch.randn(1, 2, 5, 8));
            assertThrows(IllegalStateException.class, () -> DeviceOps.attention(q, q, q, torch.ones(1, 1, 1, 5), null));
            // On meta the data-dependent decisions take their largest shape.
            assertArrayEquals(new long[] {4}, DeviceOps.nonzeroIndex(meta(torch.zeros(4))).sizes().vec().get());
            assertFalse(DeviceOps.allZero(meta(torch.zeros(3))));
        }
    }
}
