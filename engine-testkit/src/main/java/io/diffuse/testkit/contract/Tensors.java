package io.diffuse.testkit.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.bytedeco.pytorch.Tensor;

/** Tensor assertions of the contract suites. */
final class Tensors {
    private Tensors() {
    }

    static void assertClose(Tensor expected, Tensor actual, double tolerance, String what) {
        assertEquals(Arrays.toString(expected.sizes().vec().get()), Arrays.toString(actual.sizes().vec().get()), what + ": shape");
        double diff = expected.sub(actual).abs().max().item_double();
        assertTrue(diff <= tolerance, what + ": max |difference| " + diff + " exceeds " + tolerance);
    }

    static void assertBitIdentical(Tensor expected, Tensor actual, String what) {
        assertEquals(Arrays.toString(expected.sizes().vec().get()), Arrays.toString(actual.sizes().vec().get()), what + ": shape");
        assertTrue(expected.equal(actual), what + ": not bit-identical (max |difference| "
                + expected.sub(actual).abs().max().item_double() + ")");
    }
}
