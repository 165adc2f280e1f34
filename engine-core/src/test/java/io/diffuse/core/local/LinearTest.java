package io.diffuse.core.local;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.runtime.Linear;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * engine-api's Linear: fp32 CPU linears through oneDNN compute F.linear for every input layout the
 * models pass (2-d and 3-d, with and without bias, non-contiguous and offset views, an odd row count),
 * within fp32 summation-order differences; small, non-fp32 and disabled cases are torch.linear bit for bit.
 */
class LinearTest {
    @AfterEach
    void restore() {
        Linear.useOneDnn(true);
    }

    private static Tensor reference(Tensor x, Tensor w, Tensor b) {
        // fp64 reference: both fp32 GEMMs are compared against the exact result.
        return torch.linear(x.to(ScalarType.Double), w.to(ScalarType.Double),
                b == null ? new TensorOptional() : new TensorOptional(b.to(ScalarType.Double)));
    }

    private static void close(String what, Tensor x, Tensor w, Tensor b) {
        assertTrue(Linear.usesOneDnnFor(x, w, b), what + " runs in oneDNN");
        Tensor actual = Linear.linear(x, w, b);
        Tensor expected = reference(x, w, b);
        assertArrayEquals(expected.sizes().vec().get(), actual.sizes().vec().get(), what + " shape");
        assertTrue(actual.scalar_type().value == ScalarType.Float.value, what + " stays fp32");
        double err = actual.to(ScalarType.Double).sub(expected).abs().max().item_double();
        double scale = expected.abs().max().item_double();
        // fp32 accumulation over K = 96 terms of magnitude ~1: errors of a few ulps of the result.
        assertTrue(err <= 1e-5 * Math.max(1, scale), what + ": max error " + err + " (result magnitude " + scale + ")");
        double blasErr = torch.linear(x, w, b == null ? new TensorOptional() : new TensorOptional(b)).to(ScalarType.Double)
                .sub(expected).abs().max().item_double();
        assertTrue(err <= 4 * blasErr + 1e-6, what + ": error " + err + " against libtorch's own linear " + blasErr);
    }

    @Test
    void oneDnnLinearsEqualFLinear() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            Tensor w = torch.randn(40, 96);
            Tensor b = torch.randn(40);
            close("2-d with bias", torch.randn(67, 96), w, b);
            close("3-d without bias", torch.randn(2, 35, 96), w, null);
            // A transposed (non-contiguous) input and a view at a storage offset, as narrow/select give.
            close("transposed input", torch.randn(2, 96, 33).transpose(1, 2), w, b);
            close("offset view", torch.randn(3, 90, 96).select(0, 2).narrow(0, 7, 70), w, b);
            close("non-contiguous weight", torch.randn(64, 96), torch.randn(96, 40).t(), b);
            Tensor big = torch.randn(1, 300, 96);
            close("300 rows", big, torch.randn(256, 96).mul(new Scalar(0.1)), torch.randn(256));
        }
    }

    @Test
    void smallNonFp32AndDisabledCasesAreTorchLinear() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(4);
            Tensor w = torch.randn(24, 32);
            Tensor b = torch.randn(24);
            Tensor gemv = torch.randn(2, 32); // fewer than MIN_ROWS rows
            assertTrue(!Linear.usesOneDnnFor(gemv, w, b), "GEMV stays in BLAS");
            assertTrue(torch.equal(Linear.linear(gemv, w, b), torch.linear(gemv, w, new TensorOptional(b))), "GEMV");
            // 200 rows against a weight of 8.4 M elements (needs 256 rows): the weight reorder would not pay off.
            Tensor wide = torch.randn(4096, 2048);
            Tensor few = torch.randn(200, 2048);
            assertTrue(!Linear.usesOneDnnFor(few, wide, null), "few rows through a large weight stay in BLAS");
            assertTrue(Linear.usesOneDnnFor(torch.randn(256, 2048), wide, null), "enough rows for the large weight");
            assertTrue(torch.equal(Linear.linear(few, wide, null), torch.linear(few, wide, new TensorOptional())),
                    "large weight, few rows");
            Tensor x64 = torch.randn(64, 32).to(ScalarType.Double);
            assertTrue(!Linear.usesOneDnnFor(x64, w.to(ScalarType.Double), null), "fp64 stays in libtorch's linear");
            assertTrue(torch.equal(Linear.linear(x64, w.to(ScalarType.Double), null),
                    torch.linear(x64, w.to(ScalarType.Double), new TensorOptional())), "fp64");
            Linear.useOneDnn(false);
            Tensor x = torch.randn(64, 32);
            assertTrue(!Linear.usesOneDnn() && !Linear.usesOneDnnFor(x, w, b), "disabled");
            assertTrue(torch.equal(Linear.linear(x, w, b), torch.linear(x, w, new TensorOptional(b))), "blas backend");
        }
    }
}
