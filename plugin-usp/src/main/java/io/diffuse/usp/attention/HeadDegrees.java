package io.diffuse.usp.attention;

import java.util.ArrayList;
import java.util.List;

/** The Ulysses degrees a model allows: the divisors of its head count. */
public final class HeadDegrees {
    private HeadDegrees() {
    }

    /** Divisors of {@code heads}, ascending. */
    public static List<Integer> validDegrees(int heads) {
        List<Integer> degrees = new ArrayList<>();
        for (int d = 1; d <= heads; d++) {
            if (heads % d == 0) {
                degrees.add(d);
            }
        }
        return degrees;
    }

    /**
     * Checks that {@code degree} divides {@code heads}.
     *
     * @throws IllegalArgumentException naming the degree, the head count and the valid degrees
     */
    public static void check(int degree, int heads) {
        if (heads < 1) {
            throw new IllegalArgumentException("the model must have at least one attention head, got " + heads);
        }
        if (heads % degree != 0) {
            throw new IllegalArgumentException("Ulysses degree " + degree + " does not divide the model's " + heads
                    + " attention heads; valid Ulysses degrees: " + validDegrees(heads)
                    + " (use ring parallelism, or ulysses x ring, for other rank counts)");
        }
    }
}
