package io.diffuse.vaepp;

import static org.bytedeco.pytorch.global.torch.equal;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TiledVae;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeRun;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.local.TiledVaeExecutor;
import io.diffuse.hunyuan15.vae.AutoencoderKLHunyuanVideo15;
import io.diffuse.testkit.ThreadRanks;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The patch-parallel executor against the single-rank "tiled" executor of the same engine, on the
 * real HunyuanVideo 1.5 VAE with tiny random weights and ranks as threads over Gloo. Tolerance:
 * none. Both executors run the same tiles through the same VAE and blend the same values with the
 * same element-wise operations, so the outputs must be equal bit for bit ({@code torch.equal}).
 */
class PatchParallelVaeExecutorTest {
    /** 32 px tiles at compression 8: 4-latent tiles, decode stride 3 latents, blend 8 px. */
    private static final TilingSettings QUARTER = new TilingSettings(true, 32, 0.25);
    /** Overlap 0.5: blends of a tile's top and bottom overlap on short tiles (the hard case). */
    private static final TilingSettings HALF = new TilingSettings(true, 32, 0.5);

    /** One encode or decode and its single-rank reference. */
    private record Case(String name, boolean encode, Tensor input, TilingSettings tiling, int tiles) {
    }

    private static AutoencoderKLHunyuanVideo15 vae;
    private static final List<Case> CASES = new ArrayList<>();
    private static final Map<String, Tensor> REFERENCE = new LinkedHashMap<>();

    @BeforeAll
    static void build() {
        // Tiny tensors: one intra-op thread is fastest, and OpenMP teams spinning on a shared 2-core
        // machine made this class take minutes instead of seconds.
        torch.set_num_threads(1);
        vae = RandomVae.create(RandomVae.config(8, 8), 7);
        // 7x10 latents / 56x80 px: edge tiles of 1 (2) latents or 8 (24) px, uneven on both axes.
        add("decode T2V, overlap 0.25", false, new long[] {1, 4, 2, 7, 10}, QUARTER, 12);
        add("decode T2V, overlap 0.5", false, new long[] {1, 4, 2, 7, 10}, HALF, 20);
        add("decode I2V (1 latent frame)", false, new long[] {1, 4, 1, 7, 10}, QUARTER, 12);
        add("encode I2V condition image", true, new long[] {1, 3, 1, 56, 80}, QUARTER, 12);
        add("encode video, overlap 0.5", true, new long[] {1, 3, 5, 56, 80}, HALF, 20);
        add("decode, 2 tiles (fewer than ranks)", false, new long[] {1, 4, 1, 3, 5}, QUARTER, 2);
        add("decode, fits one tile", false, new long[] {1, 4, 1, 4, 4}, QUARTER, 1);
        add("decode, tiling disabled", false, new long[] {1, 4, 1, 7, 10}, TilingSettings.defaults(false), 1);
    }

    private static void add(String name, boolean encode, long[] shape, TilingSettings tiling, int tiles) {
        try (PointerScope scope = new PointerScope()) {
            manual_seed(CASES.size() + 1);
            Tensor input = randn(shape);
            TiledVaeExecutor tiled = new TiledVaeExecutor();
            VaeRun single = new VaeRun(tiling, LocalGroups.create(), true);
            Tensor reference = encode ? tiled.encode(vae, input, single) : tiled.decode(vae, input, single);
            input.retainReference();
            reference.retainReference();
            TilePlan plan = encode
                    ? TilePlan.encode(shape[3], shape[4], tiling, 8)
                    : TilePlan.decode(shape[3], shape[4], tiling, 8);
            assertEquals(tiles, plan.tiles().size(), name + ": tile count of the test geometry");
            Case c = new Case(name, encode, input, tiling, tiles);
            CASES.add(c);
            REFERENCE.put(name, reference);
        }
    }

    @AfterAll
    static void release() {
        CASES.forEach(c -> c.input().releaseReference());
        REFERENCE.values().forEach(Tensor::releaseReference);
        CASES.clear();
        REFERENCE.clear();
        vae.close();
    }

    /** What one rank saw for every case: equal to the reference or not, and its report. */
    private record RankResult(Map<String, String> mismatches, Map<String, PatchParallelVaeExecutor.RunReport> reports) {
    }

    private static RankResult runAll(ProcessGroups groups, boolean resultOnAllRanks) {
        PatchParallelVaeExecutor executor = new PatchParallelVaeExecutor();
        Map<String, String> mismatches = new LinkedHashMap<>();
        Map<String, PatchParallelVaeExecutor.RunReport> reports = new LinkedHashMap<>();
        int worldRank = groups.world().rank();
        for (Case c : CASES) {
            try (PointerScope scope = new PointerScope()) {
                VaeRun run = new VaeRun(c.tiling(), groups, resultOnAllRanks);
                Tensor out = c.encode() ? executor.encode(vae, c.input(), run) : executor.decode(vae, c.input(), run);
                reports.put(c.name(), PatchParallelVaeExecutor.lastRun());
                if (resultOnAllRanks || worldRank == 0) {
                    if (!equal(out, REFERENCE.get(c.name()))) {
                        mismatches.put(c.name(), "differs from the single-rank tiled result");
                    }
                } else if (out.numel() != 0) {
                    mismatches.put(c.name(), "rank " + worldRank + " got " + out.numel() + " elements; expected none");
                }
            }
        }
        return new RankResult(mismatches, reports);
    }

    private static void check(ParallelPlan plan, boolean resultOnAllRanks) {
        List<RankResult> ranks = ThreadRanks.run(plan, groups -> runAll(groups, resultOnAllRanks));
        for (int r = 0; r < ranks.size(); r++) {
            assertTrue(ranks.get(r).mismatches().isEmpty(), plan + ", result on all ranks " + resultOnAllRanks
                    + ", rank " + r + ": " + ranks.get(r).mismatches());
        }
        // Every tile ran exactly once, on a VAE rank, in contiguous runs.
        for (Case c : CASES) {
            int next = 0;
            for (int r = 0; r < plan.vae(); r++) {
                PatchParallelVaeExecutor.RunReport report = ranks.get(r).reports().get(c.name());
                if (report.endTile() > report.firstTile()) {
                    assertEquals(next, report.firstTile(), c.name() + ": rank " + r + " run start");
                    next = report.endTile();
                }
            }
            assertEquals(c.tiles(), next, c.name() + ": tiles run");
            for (int r = plan.vae(); r < plan.world(); r++) {
                PatchParallelVaeExecutor.RunReport report = ranks.get(r).reports().get(c.name());
                assertEquals(report.firstTile(), report.endTile(), c.name() + ": rank " + r + " is outside the VAE group");
            }
        }
    }

    @ParameterizedTest(name = "vae group of {0}, result on all ranks")
    @ValueSource(ints = {2, 3, 4})
    void bitIdenticalToTiledOnEveryRank(int ranks) {
        check(new ParallelPlan(ranks, ranks, 1, 1, ranks), true);
    }

    @Test
    void resultOnlyOnRankZero() {
        check(new ParallelPlan(3, 3, 1, 1, 3), false);
    }

    @Test
    void vaeGroupSmallerThanWorld() {
        check(new ParallelPlan(4, 2, 1, 2, 3), true);
    }

    @Test
    void vaeGroupOfOneInALargerWorldResultOnRankZero() {
        check(new ParallelPlan(2, 2, 1, 1, 1), false);
    }

    @Test
    void singleRankIsTheTiledExecutor() {
        RankResult r = runAll(LocalGroups.create(), true);
        assertTrue(r.mismatches().isEmpty(), r.mismatches().toString());
        r.reports().values().forEach(report -> assertEquals(0, report.bytesSent()));
    }

    @Test
    void onlyStripsAndCroppedTilesMove() {
        // Decode, 4 ranks, result on rank 0 only: rank r>0 sends its cropped tiles to rank 0 and blend
        // strips to rank r+1, nothing else; no rank receives whole tiles.
        Case c = CASES.get(0);
        List<long[]> bytes = ThreadRanks.run(new ParallelPlan(4, 4, 1, 1, 4), groups -> {
            try (PointerScope scope = new PointerScope()) {
                new PatchParallelVaeExecutor().decode(vae, c.input(), new VaeRun(c.tiling(), groups, false));
                PatchParallelVaeExecutor.RunReport rep = PatchParallelVaeExecutor.lastRun();
                return new long[] {rep.bytesSent(), rep.bytesReceived(), rep.peakHeldBytes()};
            }
        });
        Tensor reference = REFERENCE.get(c.name());
        long output = reference.nbytes();
        long perPixel = output / (reference.size(3) * reference.size(4)); // B * C * T * 4 bytes
        long received = bytes.stream().mapToLong(b -> b[1]).sum();
        long sent = bytes.stream().mapToLong(b -> b[0]).sum();
        assertEquals(sent, received, "every byte sent is received");
        // Rank 0 receives the other ranks' cropped tiles: less than the whole output (its own part stays).
        long bands = bytes.get(0)[1];
        assertTrue(bands > 0 && bands < output, "rank 0 received " + bands + " B of tiles for an output of " + output);
        // Rank 0 holds the result and, beside it, at most one raw 32x32 px tile, a row of bottom strips
        // (8 px over 104 px), two right strips (8x32 px: its own and the next rank's) and one received
        // cropped 24x24 px tile: no band, no batch of raw tiles.
        long heldBound = output + (32 * 32 + 8 * 104 + 2 * 8 * 32 + 24 * 24) * perPixel;
        assertTrue(bytes.get(0)[2] <= heldBound, "rank 0 held " + bytes.get(0)[2] + " B at its peak; bound " + heldBound
                + " B (output " + output + " B)");
        // Strips, per boundary between ranks: at most a row of bottom strips (8 px deep over the
        // row's tile widths 32+32+32+8 px)
        // and one right strip (8 px wide, at most a 32 px tile high); 3 boundaries on 4 ranks.
        long strips = received - bands;
        long bound = 3 * (8 * 104 + 8 * 32) * perPixel;
        assertTrue(strips > 0 && strips <= bound, "strips moved " + strips + " B; bound " + bound + " B");
    }

    @Test
    void vaeThatCannotTileIsAnError() {
        TiledVae untileable = new TiledVae() {
            @Override public int spatialCompression() { return vae.spatialCompression(); }
            @Override public int temporalCompression() { return vae.temporalCompression(); }
            @Override public int latentChannels() { return vae.latentChannels(); }
            @Override public boolean supportsTiling() { return false; }
            @Override public Tensor encodeTile(Tensor sample) { return vae.encodeTile(sample); }
            @Override public Tensor decodeTile(Tensor latent) { return vae.decodeTile(latent); }
            @Override public void checkInput(Tensor input, boolean encode) { vae.checkInput(input, encode); }
        };
        Case c = CASES.get(0);
        // Every rank fails at once, before any collective, so nothing hangs.
        DiffuseException e = assertThrows(DiffuseException.class, () -> ThreadRanks.run(
                new ParallelPlan(2, 2, 1, 1, 2),
                groups -> new PatchParallelVaeExecutor().decode(untileable, c.input(), new VaeRun(c.tiling(), groups, true))));
        assertTrue(e.getMessage().contains("\"local\""), e.getMessage());
    }
}
