package io.diffuse.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.cache.CacheDecision;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.local.LocalStrategy;
import io.diffuse.testkit.ThreadRanks;
import io.diffuse.usp.RingStrategy;
import io.diffuse.usp.UlyssesStrategy;
import io.diffuse.usp.UspStrategy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Cached generations on thread ranks over real Gloo groups equal the cached single-rank generation:
 * Ulysses 2 x CFG parallel 2 (4 ranks; each cfg rank keeps only its branch's state), Ring 2
 * (2 ranks) and USP Ulysses 2 x Ring 2 (4 ranks, one sequence group), with the first-block cache (whose statistic is reduced over the sequence group) and
 * MagCache. Latents within 1e-5 of single rank (the sharded attention's float rounding; the uncached
 * parallel runs show the same), and every rank's decisions equal single rank's for the branches it
 * ran, with the first-block statistic bit-identical across the ranks of a sequence group. One Ring 2
 * case has an odd token count (48x80, 1 frame: 15 video tokens), so a shard carries padding that the
 * statistic must leave out.
 */
class ParallelStepCacheTest {
    private static final double TOLERANCE = 1e-5;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static Map<String, Tensor> fixture;

    private record RankOutcome(CacheRuns.Outcome outcome, boolean conditional, List<Integer> sequenceRanks) {
    }

    @BeforeAll
    static void load() {
        fixture = CacheRuns.tensors(new DiffusersCheckpointLoader());
    }

    @Test
    void firstBlockCacheUnderUlysses2TimesCfg2EqualsSingleRank() {
        check(CacheRuns.request(fixture, 64, 64, 5), CacheRuns.settings("fbc_0.45"), new ParallelPlan(4, 2, 1, 2, 4),
                new UlyssesStrategy());
    }

    @Test
    void firstBlockCacheUnderRing2EqualsSingleRank() {
        check(CacheRuns.request(fixture, 64, 64, 5), CacheRuns.settings("fbc_0.45"), new ParallelPlan(2, 1, 2, 1, 2),
                new RingStrategy());
    }

    @Test
    void firstBlockCacheUnderRing2WithPaddedShardsEqualsSingleRank() {
        check(CacheRuns.request(fixture, 48, 80, 1), CacheRuns.settings("fbc_0.45"), new ParallelPlan(2, 1, 2, 1, 2),
                new RingStrategy());
    }

    @Test
    void firstBlockCacheUnderUspUlysses2TimesRing2EqualsSingleRank() {
        check(CacheRuns.request(fixture, 64, 64, 5), CacheRuns.settings("fbc_0.45"), new ParallelPlan(4, 2, 2, 1, 4),
                new UspStrategy());
    }

    @Test
    void magCacheUnderUlysses2TimesCfg2EqualsSingleRank() {
        check(CacheRuns.request(fixture, 64, 64, 5), CacheRuns.settings("mag"), new ParallelPlan(4, 2, 1, 2, 4),
                new UlyssesStrategy());
    }

    private static void check(GenerationRequest request, Map<String, Object> cache, ParallelPlan plan, ParallelStrategy strategy) {
        CacheRuns.Outcome single = CacheRuns.generate(request, cache, LocalGroups.create(), new LocalStrategy());
        long skipped = single.decisions().stream().filter(d -> !d.computed()).count();
        assertTrue(skipped > 0, "the single-rank run must skip some forwards for this test to mean anything");
        List<RankOutcome> ranks = ThreadRanks.run(plan, TIMEOUT, groups -> new RankOutcome(
                CacheRuns.generate(request, cache, groups, strategy), groups.runsConditional() || plan.cfg() == 1,
                groups.sequence().globalRanks()));
        for (int rank = 0; rank < ranks.size(); rank++) {
            RankOutcome r = ranks.get(rank);
            double err = CacheRuns.maxAbsDiff(r.outcome().latents(), single.latents());
            assertTrue(err <= TOLERANCE, "rank " + rank + " latents differ from single rank by " + err);
            // The branches this rank ran: both without cfg parallel, its own with it.
            List<CacheDecision> expected = single.decisions().stream()
                    .filter(d -> plan.cfg() == 1 || d.branch().equals(r.conditional() ? "pred_cond" : "pred_uncond")).toList();
            List<CacheDecision> got = r.outcome().decisions();
            assertEquals(expected.size(), got.size(), "rank " + rank + " decisions");
            for (int i = 0; i < got.size(); i++) {
                CacheDecision e = expected.get(i);
                CacheDecision g = got.get(i);
                assertEquals(List.of(e.step(), e.branch(), e.computed()), List.of(g.step(), g.branch(), g.computed()),
                        "rank " + rank + " decision " + i);
                if (!Double.isNaN(e.statistic())) {
                    assertEquals(e.statistic(), g.statistic(), 1e-6, "rank " + rank + " statistic " + i);
                }
            }
            // Ranks sharing a sequence group took the same decisions from the very same reduced statistic.
            for (int peer : r.sequenceRanks()) {
                assertEquals(got, ranks.get(peer).outcome().decisions(), "ranks " + rank + " and " + peer);
            }
            System.out.printf("%s %s rank %d: %d of %d forwards skipped, latents max abs diff to single rank %.3g%n",
                    cache.get("policy"), plan, rank, got.stream().filter(d -> !d.computed()).count(), got.size(), err);
        }
    }
}
