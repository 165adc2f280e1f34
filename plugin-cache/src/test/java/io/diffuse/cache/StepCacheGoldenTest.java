package io.diffuse.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.cache.CacheDecision;
import io.diffuse.api.cache.CacheStep;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.local.LocalStrategy;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The tiny HunyuanVideo 1.5 pipeline with step caching against diffusers' cache hooks
 * (tools/reference/gen_cache.py: T2V, guidance 6, 8 steps): first-block cache at thresholds 0.3
 * (skips 2 of 16 forwards) and 0.45 (8 of 16), and MagCache with the model's calibrated ratios (6 of
 * 16). Final latents within 1e-4 of diffusers' (the uncached pipeline's bar; the cached runs differ
 * from the uncached one by 2.9e-3 to 5e-2, so a cache that skipped other steps, or none, fails), the
 * same decision at every step and branch, and the first-block statistic within 1e-4 of diffusers'
 * (it is computed in float64 here and float32 there; the nearest decision is 8.9e-3 from its threshold).
 */
class StepCacheGoldenTest {
    private static final double TOLERANCE = 1e-4;
    private static Map<String, Tensor> fixture;
    private static GenerationRequest request;

    @BeforeAll
    static void load() {
        fixture = CacheRuns.tensors(new DiffusersCheckpointLoader());
        request = CacheRuns.request(fixture, 64, 64, 5);
    }

    private static CacheRuns.Outcome single(Map<String, Object> cache) {
        return CacheRuns.generate(request, cache, LocalGroups.create(), new LocalStrategy());
    }

    @Test
    void uncachedRunMatchesDiffusersAndDecidesNothing() {
        CacheRuns.Outcome none = single(Map.of("policy", "none"));
        double err = CacheRuns.maxAbsDiff(none.latents(), fixture.get("latents_none"));
        assertTrue(err <= TOLERANCE, "uncached latents max abs error " + err);
        assertEquals(List.of(), none.decisions());
    }

    @Test
    void firstBlockCacheAtThreshold03MatchesDiffusers() {
        check("fbc_0.3", 2);
    }

    @Test
    void firstBlockCacheAtThreshold045MatchesDiffusers() {
        check("fbc_0.45", 8);
    }

    @Test
    void magCacheMatchesDiffusers() {
        check("mag", 6);
    }

    @Test
    void magCacheCalibrationGivesDiffusersRatios() {
        Map<String, Object> settings = Map.of("policy", "mag-cache", "mag-cache.calibrate", true);
        CacheRuns.Outcome calibration = single(settings);
        double err = CacheRuns.maxAbsDiff(calibration.latents(), fixture.get("latents_none"));
        assertTrue(err <= TOLERANCE, "calibration skips nothing: latents max abs error to uncached " + err);
        for (String branch : List.of(CacheStep.COND, CacheStep.UNCOND)) {
            List<Double> expected = CacheRuns.CASES.getDoubleList("mag_calibration." + branch);
            List<CacheDecision> got = calibration.decisions().stream().filter(d -> d.branch().equals(branch)).toList();
            assertEquals(expected.size(), got.size(), branch);
            for (int i = 0; i < got.size(); i++) {
                assertTrue(got.get(i).computed());
                assertEquals(expected.get(i), got.get(i).statistic(), 1e-5, branch + " ratio at step " + i);
            }
        }
    }

    private static void check(String name, int skips) {
        CacheRuns.Outcome run = single(CacheRuns.settings(name));
        Tensor expected = fixture.get("latents_" + name);
        double err = CacheRuns.maxAbsDiff(run.latents(), expected);
        assertTrue(err <= TOLERANCE, name + " latents max abs error " + err);
        double fromUncached = CacheRuns.maxAbsDiff(expected, fixture.get("latents_none"));
        assertTrue(fromUncached > 10 * TOLERANCE, name + " differs from uncached by only " + fromUncached);

        List<CacheDecision> want = CacheRuns.expectedDecisions(name);
        List<CacheDecision> got = run.decisions();
        assertEquals(want.size(), got.size(), name + " decisions");
        for (int i = 0; i < want.size(); i++) {
            CacheDecision w = want.get(i);
            CacheDecision g = got.get(i);
            String at = name + " decision " + i + " " + g;
            assertEquals(w.step(), g.step(), at);
            assertEquals(w.branch(), g.branch(), at);
            assertEquals(w.computed(), g.computed(), at);
            if (!Double.isNaN(w.statistic())) {
                assertEquals(w.statistic(), g.statistic(), TOLERANCE, at);
            }
        }
        assertEquals(skips, got.stream().filter(d -> !d.computed()).count(), name + " skipped forwards");
        System.out.printf("%s: %d of %d forwards skipped, latents max abs error %.3g (cached differs from uncached by %.3g)%n",
                name, skips, got.size(), err, fromUncached);
        assertEquals(CacheRuns.CASES.getInt("runs.\"" + name + "\".skipped"), skips);
    }
}
