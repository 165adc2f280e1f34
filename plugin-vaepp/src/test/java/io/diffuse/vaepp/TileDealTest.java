package io.diffuse.vaepp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TilingSettings;
import org.junit.jupiter.api.Test;

class TileDealTest {
    private static long[] areas(TilePlan plan) {
        return plan.tiles().stream().mapToLong(t -> t.height() * t.width()).toArray();
    }

    @Test
    void runsAreContiguousNonEmptyAndCoverEveryTile() {
        long[] work = {5, 1, 1, 1, 9, 2, 2, 3, 3, 1};
        for (int ranks = 1; ranks <= 12; ranks++) {
            TileDeal deal = TileDeal.of(work, ranks);
            assertEquals(0, deal.start(0));
            int active = Math.min(ranks, work.length);
            assertEquals(active, deal.activeRanks());
            for (int r = 0; r < ranks; r++) {
                if (r > 0) {
                    assertEquals(deal.end(r - 1), deal.start(r), deal + " rank " + r);
                }
                assertEquals(r < active, deal.end(r) > deal.start(r), deal + " rank " + r);
            }
            assertEquals(work.length, deal.end(ranks - 1));
        }
    }

    @Test
    void minimisesTheLargestRunExactly() {
        long[] work = {5, 1, 1, 1, 9, 2, 2, 3, 3, 1};
        for (int ranks = 1; ranks <= work.length; ranks++) {
            long best = bruteForce(work, ranks, 0);
            TileDeal deal = TileDeal.of(work, ranks);
            long max = 0;
            for (int r = 0; r < ranks; r++) {
                max = Math.max(max, deal.work(r));
            }
            assertEquals(best, max, "ranks " + ranks + ": " + deal);
        }
    }

    /** Smallest largest run over every way to cut work[from..] into k non-empty contiguous runs. */
    private static long bruteForce(long[] work, int k, int from) {
        if (k == 1) {
            long s = 0;
            for (int i = from; i < work.length; i++) {
                s += work[i];
            }
            return s;
        }
        long best = Long.MAX_VALUE;
        long head = 0;
        for (int cut = from + 1; cut <= work.length - (k - 1); cut++) {
            head += work[cut - 1];
            best = Math.min(best, Math.max(head, bruteForce(work, k - 1, cut)));
        }
        return best;
    }

    @Test
    void hunyuan480pBalance() {
        // 480x848 decode: 30x53 latents, 16-latent tiles with stride 12 -> 3 x 5 = 15 tiles.
        TilePlan plan = TilePlan.decode(30, 53, TilingSettings.defaults(true), 16);
        TileDeal two = TileDeal.of(areas(plan), 2);
        assertTrue(two.efficiency() > 0.9, two + " " + two.efficiency());
        // 720p: 45x80 latents -> 4 x 7 = 28 tiles; 4 ranks (7 tiles each) balance within 10%.
        TilePlan p720 = TilePlan.decode(45, 80, TilingSettings.defaults(true), 16);
        assertEquals(28, p720.tiles().size());
        TileDeal four = TileDeal.of(areas(p720), 4);
        assertTrue(four.efficiency() >= 0.9, four + " " + four.efficiency());
    }

    @Test
    void sameDealOnEveryCall() {
        TilePlan plan = TilePlan.decode(45, 80, TilingSettings.defaults(true), 16);
        assertEquals(TileDeal.of(areas(plan), 3).toString(), TileDeal.of(areas(plan), 3).toString());
    }
}
