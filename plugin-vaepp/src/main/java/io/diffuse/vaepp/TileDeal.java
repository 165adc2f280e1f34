package io.diffuse.vaepp;

import java.util.Arrays;

/**
 * How tiles are dealt to the ranks of a VAE group: each rank gets one contiguous run of tiles in
 * row-major order, and the runs are chosen to minimise the largest run's work (an exact linear
 * partition by dynamic programming). Every rank computes the same deal from the tile list alone, so
 * no communication is needed to agree on it.
 *
 * <p>Contiguous runs are what makes the merge cheap: a run needs only the blend strips of the
 * tiles just before it (the row above its first row and the tile to its left), never whole tiles.
 * When there are fewer tiles than ranks, the first ranks get one tile each and the rest get none.
 */
final class TileDeal {
    private final long[] work;
    private final int[] bounds;

    private TileDeal(long[] work, int[] bounds) {
        this.work = work;
        this.bounds = bounds;
    }

    /**
     * Deals tiles of the given work (any non-negative measure, e.g. area) to {@code ranks} ranks.
     * Ties between equally good partitions go to the one whose later runs are smaller, so the
     * ranks that start blending last have the least to do.
     */
    static TileDeal of(long[] work, int ranks) {
        if (ranks < 1) {
            throw new IllegalArgumentException("a VAE group needs at least one rank, got " + ranks);
        }
        int n = work.length;
        int[] bounds = new int[ranks + 1];
        Arrays.fill(bounds, n);
        bounds[0] = 0;
        int runs = Math.min(ranks, n);
        if (runs == 0) {
            return new TileDeal(work.clone(), bounds);
        }
        long[] prefix = new long[n + 1];
        for (int i = 0; i < n; i++) {
            if (work[i] < 0) {
                throw new IllegalArgumentException("tile " + i + " has negative work " + work[i]);
            }
            prefix[i + 1] = prefix[i] + work[i];
        }
        // best[k][i]: smallest possible largest run when the first i tiles form k non-empty runs.
        long[][] best = new long[runs + 1][n + 1];
        int[][] cut = new int[runs + 1][n + 1];
        for (long[] row : best) {
            Arrays.fill(row, Long.MAX_VALUE);
        }
        for (int i = 1; i <= n; i++) {
            best[1][i] = prefix[i];
        }
        for (int k = 2; k <= runs; k++) {
            for (int i = k; i <= n; i++) {
                for (int j = k - 1; j < i; j++) {
                    long v = Math.max(best[k - 1][j], prefix[i] - prefix[j]);
                    if (v <= best[k][i]) { // <=: the latest cut wins ties (smaller later runs)
                        best[k][i] = v;
                        cut[k][i] = j;
                    }
                }
            }
        }
        int end = n;
        for (int k = runs; k >= 1; k--) {
            bounds[k] = end;
            end = k == 1 ? 0 : cut[k][end];
        }
        return new TileDeal(work.clone(), bounds);
    }

    /** Number of ranks dealt to. */
    int ranks() {
        return bounds.length - 1;
    }

    /** First tile of {@code rank}'s run. */
    int start(int rank) {
        return bounds[rank];
    }

    /** One past the last tile of {@code rank}'s run. */
    int end(int rank) {
        return bounds[rank + 1];
    }

    /** Number of ranks with at least one tile (always the first ones). */
    int activeRanks() {
        int a = 0;
        for (int r = 0; r < ranks(); r++) {
            if (end(r) > start(r)) {
                a++;
            }
        }
        return a;
    }

    /** Total work of {@code rank}'s run. */
    long work(int rank) {
        long w = 0;
        for (int t = start(rank); t < end(rank); t++) {
            w += work[t];
        }
        return w;
    }

    /** Mean work per rank over the largest rank's work: 1.0 is a perfect balance. */
    double efficiency() {
        long total = 0;
        long max = 0;
        for (int r = 0; r < ranks(); r++) {
            long w = work(r);
            total += w;
            max = Math.max(max, w);
        }
        return max == 0 ? 1.0 : (double) total / ranks() / max;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("TileDeal[");
        for (int r = 0; r < ranks(); r++) {
            sb.append(r > 0 ? ", " : "").append(start(r)).append("..").append(end(r));
        }
        return sb.append(']').toString();
    }
}
