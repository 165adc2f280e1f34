package io.diffuse.core.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The arithmetic of {@code bench serve}: percentiles as numpy's default, seeded Poisson arrivals. */
class ServeLoadTest {
    @Test
    void percentilesInterpolateBetweenOrderStatisticsAsNumpyDoes() {
        Map<String, Double> s = ServeLoad.stats(new double[] {4, 1, 3, 2});
        assertEquals(2.5, s.get("mean"));
        assertEquals(2.5, s.get("p50"), 1e-12); // numpy.percentile([1,2,3,4], 50)
        assertEquals(3.85, s.get("p95"), 1e-12); // numpy.percentile([1,2,3,4], 95)
        assertEquals(3.97, s.get("p99"), 1e-12);
        assertEquals(7.0, ServeLoad.stats(new double[] {7}).get("p99"));
        assertNull(ServeLoad.stats(new double[0]).get("p50"));
    }

    @Test
    void arrivalsAreAllAtOnceWithoutARateAndRepeatWithTheSeed() {
        assertArrayEquals(new double[3], ServeLoad.arrivals(3, Double.POSITIVE_INFINITY, 1));
        double[] a = ServeLoad.arrivals(2000, 4, 5);
        assertArrayEquals(a, ServeLoad.arrivals(2000, 4, 5));
        assertEquals(0, a[0]);
        for (int i = 1; i < a.length; i++) {
            assertTrue(a[i] >= a[i - 1]);
        }
        // 1999 gaps of mean 1/4 s: the mean is within a few standard errors (0.25 / sqrt(1999) = 0.0056).
        assertEquals(0.25, a[a.length - 1] / (a.length - 1), 0.03);
    }
}
