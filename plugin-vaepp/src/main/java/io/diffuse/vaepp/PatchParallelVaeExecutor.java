package io.diffuse.vaepp;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TiledVae;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The "patch-parallel" VAE executor: the tiles of the single-rank "tiled" executor ({@link TilePlan},
 * same list, same blend and crop) spread over the ranks of the VAE group, with a merged result that
 * is bit for bit the single-rank one.
 *
 * <p>How one encode or decode runs:
 * <ol>
 *   <li><b>Deal.</b> Every rank computes the same {@link TileDeal}: contiguous runs of tiles in
 *       row-major order, balanced by tile area. No communication.</li>
 *   <li><b>Run tiles.</b> Each VAE rank encodes or decodes the tiles of its run, in parallel with
 *       the others.</li>
 *   <li><b>Blend, as a pipeline of strips.</b> diffusers blends in place, row-major: a tile is blended
 *       with its top and left neighbours <i>after</i> those were blended themselves. So a run needs
 *       the already-blended bottom strips ({@code min(h, blend)} rows) of the tiles one row above its
 *       first tiles, and the already-blended right strip of the tile just before it. Rank {@code r}
 *       receives exactly those strips from rank {@code r-1} in one message, blends its run in the
 *       single-rank order, and sends rank {@code r+1} the strips it needs (forwarding strips of
 *       earlier ranks when its run is shorter than a row). The blend arithmetic is
 *       {@link TilePlan#blendVertical}/{@link TilePlan#blendHorizontal} on the same values, so the
 *       bits match. Tile compute is fully parallel; only the cheap element-wise blend is sequential
 *       (its critical path is the single-rank blend time).</li>
 *   <li><b>Assemble.</b> Each rank crops its blended tiles into one flat band. With
 *       {@link VaeRun#resultOnAllRanks()} every band is broadcast over the world from its owner
 *       (exact sizes, no padding, no rank-0 relay), so ranks outside the VAE group get the result too;
 *       otherwise bands go point-to-point to world rank 0 only.</li>
 * </ol>
 * Sizes of every message are known in advance from the plan and the tile output's (B, C, T) and
 * dtype, which a rank learns from its own tiles; when some world rank has no tile and the result is
 * needed everywhere, one all-reduce of four integers tells it.
 *
 * <p>Edge cases: ranks outside the VAE group and VAE ranks without a tile (fewer tiles than ranks)
 * take part in every world collective and return the same result. An input that fits one tile, or
 * a run with tiling disabled, is one tile: VAE rank 0 runs it whole (exactly what the "tiled"
 * executor does) and shares it as above. A VAE that cannot run on tiles is an error: choose the
 * "local" executor for it. When only rank 0 needs the result, every other rank returns an empty
 * tensor (no elements).
 *
 * <p>Per-rank memory: its own tiles' raw outputs, its band, a few strips, and the result where the
 * result is needed. Traffic: the strips (one message per neighbouring pair of ranks) plus the bands.
 * {@link #lastRun()} reports both for the calling thread's last run.
 */
@Component(service = VaeExecutor.class, property = VaeExecutor.NAME_PROPERTY + "=patch-parallel")
public final class PatchParallelVaeExecutor implements VaeExecutor {
    private static final Logger LOG = LoggerFactory.getLogger(PatchParallelVaeExecutor.class);
    private static final ThreadLocal<RunReport> LAST_RUN = new ThreadLocal<>();

    /**
     * What one run did on one rank.
     *
     * @param direction encode or decode
     * @param tiles tiles in the plan
     * @param firstTile first tile of this rank's run
     * @param endTile one past the last tile of this rank's run (equal to {@code firstTile} if none)
     * @param work this rank's tile work (sum of input tile areas)
     * @param balanceEfficiency mean work per VAE rank over the largest rank's work
     * @param bytesSent bytes this rank sent, over every group the run used
     * @param bytesReceived bytes this rank received, over every group the run used
     * @param peakHeldBytes the largest sum of tensor bytes this executor held at once on this rank
     *        (tile outputs, strips, bands, result; not the VAE's own activations)
     * @param tileNanos time spent running tiles through the VAE
     * @param totalNanos time of the whole call
     */
    public record RunReport(TilePlan.Direction direction, int tiles, int firstTile, int endTile, long work,
            double balanceEfficiency, long bytesSent, long bytesReceived, long peakHeldBytes, long tileNanos,
            long totalNanos) {
    }

    @Override
    public String name() {
        return "patch-parallel";
    }

    @Override
    public String description() {
        return "spatial tiles dealt in contiguous balanced runs over the VAE group; blend strips passed"
                + " between neighbours; bit-identical to \"tiled\"";
    }

    @Override
    public boolean distributed() {
        return true;
    }

    @Override
    public Tensor encode(TiledVae vae, Tensor sample, VaeRun run) {
        vae.checkInput(sample, true);
        TilePlan plan = TilePlan.encode(sample.size(3), sample.size(4), run.tiling(), vae.spatialCompression());
        return execute(plan, vae, sample, run);
    }

    @Override
    public Tensor decode(TiledVae vae, Tensor latent, VaeRun run) {
        vae.checkInput(latent, false);
        TilePlan plan = TilePlan.decode(latent.size(3), latent.size(4), run.tiling(), vae.spatialCompression());
        return execute(plan, vae, latent, run);
    }

    /** The report of the calling thread's last encode or decode, or null if it ran none. */
    public static RunReport lastRun() {
        return LAST_RUN.get();
    }

    private Tensor execute(TilePlan plan, TiledVae vae, Tensor input, VaeRun run) {
        long started = System.nanoTime();
        if (!vae.supportsTiling()) {
            throw new DiffuseException("VAE executor \"patch-parallel\" needs a VAE that runs on tiles, and this VAE"
                    + " (" + vae.getClass().getSimpleName() + ") cannot; choose the \"local\" VAE executor"
                    + " (and a VAE parallel size of 1) for it");
        }
        Layout layout = Layout.of(run.groups());
        List<TilePlan.Tile> tiles = plan.tiles();
        long[] work = new long[tiles.size()];
        for (TilePlan.Tile t : tiles) {
            work[t.index()] = t.height() * t.width();
        }
        TileDeal deal = TileDeal.of(work, layout.vaeSize);
        Map<ProcessGroup, CommStats.Counter> before = counters(layout.used());
        PointerScope outer = PointerScope.getInnerScope();
        Merge merge = new Merge(plan, deal, layout, input);
        Tensor result;
        try (PointerScope scope = new PointerScope()) {
            try {
                result = merge.run(vae, run.resultOnAllRanks());
            } finally {
                merge.finish(); // before the scope frees the buffers of sends in flight
            }
            if (outer != null) {
                outer.attach(result);
            } else {
                result.retainReference();
            }
        }
        long sent = 0;
        long received = 0;
        for (Map.Entry<ProcessGroup, CommStats.Counter> e : counters(layout.used()).entrySet()) {
            CommStats.Counter b = before.get(e.getKey());
            sent += e.getValue().bytesSent() - b.bytesSent();
            received += e.getValue().bytesReceived() - b.bytesReceived();
        }
        int me = layout.vaeRank;
        RunReport report = new RunReport(plan.direction(), tiles.size(), me < 0 ? 0 : deal.start(me),
                me < 0 ? 0 : deal.end(me), me < 0 ? 0 : deal.work(me), deal.efficiency(), sent, received,
                merge.held.peak, merge.tileNanos, System.nanoTime() - started);
        LAST_RUN.set(report);
        LOG.debug("patch-parallel {} on world rank {}: {} tiles dealt {}, this rank tiles {}..{}, sent {} B, received"
                + " {} B, peak held {} B, {} ms", plan.direction(), layout.worldRank, tiles.size(), deal,
                report.firstTile(), report.endTile(), sent, received, report.peakHeldBytes(),
                report.totalNanos() / 1_000_000);
        return result;
    }

    private static Map<ProcessGroup, CommStats.Counter> counters(List<ProcessGroup> groups) {
        Map<ProcessGroup, CommStats.Counter> m = new IdentityHashMap<>();
        for (ProcessGroup g : groups) {
            m.put(g, g.stats().total());
        }
        return m;
    }

    /** Where this rank stands: world and VAE group, checked against the layout the executor relies on. */
    private record Layout(ProcessGroup world, ProcessGroup vae, int worldRank, int worldSize, int vaeSize,
            int vaeRank) {
        static Layout of(ProcessGroups groups) {
            ProcessGroup world = groups.world();
            int worldSize = world.size();
            int worldRank = world.rank();
            int vaeSize = groups.plan().vae();
            if (vaeSize < 1 || vaeSize > worldSize) {
                throw new DiffuseException("VAE parallel size " + vaeSize + " does not fit the " + worldSize
                        + " ranks: set the VAE parallel size (--vae-parallel, parallel.vae) to between 1 and "
                        + worldSize);
            }
            if (!groups.inVaeGroup()) {
                if (worldRank < vaeSize) {
                    throw new DiffuseException("world rank " + worldRank + " is not in the VAE group, but the VAE"
                            + " group must be the first " + vaeSize + " ranks");
                }
                return new Layout(world, groups.vae(), worldRank, worldSize, vaeSize, -1);
            }
            ProcessGroup vae = groups.vae();
            List<Integer> expected = new ArrayList<>();
            for (int r = 0; r < vaeSize; r++) {
                expected.add(r);
            }
            if (vae.size() != vaeSize || !vae.globalRanks().equals(expected) || vae.rank() != worldRank) {
                throw new DiffuseException("VAE group " + vae.name() + " has global ranks " + vae.globalRanks()
                        + " (this rank " + vae.rank() + ", world rank " + worldRank + "); the patch-parallel"
                        + " executor needs the VAE group to be world ranks " + expected + " in order");
            }
            return new Layout(world, vae, worldRank, worldSize, vaeSize, vae.rank());
        }

        List<ProcessGroup> used() {
            return vae == world || vaeRank < 0 ? List.of(world) : List.of(world, vae);
        }
    }

    /** Tensor bytes held at once, for the report. */
    private static final class Held {
        long now;
        long peak;

        void add(Tensor t) {
            now += t.nbytes();
            peak = Math.max(peak, now);
        }

        void remove(Tensor t) {
            now -= t.nbytes();
        }
    }

    /** One run's state on one rank. */
    private static final class Merge {
        private final TilePlan plan;
        private final TileDeal deal;
        private final Layout layout;
        private final Tensor input;
        private final List<TilePlan.Tile> tiles;
        private final int columns;
        private final int extent;
        /** Tensors retained beyond their scope; released in {@link #releaseOwned()}. */
        private final Set<Tensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
        /** Sends not yet known to be complete; their buffers must stay alive until awaited. */
        private final List<AsyncWork> pendingSends = new ArrayList<>();
        final Held held = new Held();
        long tileNanos;

        Merge(TilePlan plan, TileDeal deal, Layout layout, Tensor input) {
            this.plan = plan;
            this.deal = deal;
            this.layout = layout;
            this.input = input;
            this.tiles = plan.tiles();
            this.columns = plan.columns();
            this.extent = plan.blendExtent();
        }

        Tensor run(TiledVae vae, boolean resultOnAllRanks) {
            int me = layout.vaeRank;
            boolean hasTiles = me >= 0 && deal.end(me) > deal.start(me);
            long[] bct = null;
            Tensor band = null;
            if (hasTiles) {
                List<Tensor> outputs = runTiles(vae, deal.start(me), deal.end(me));
                Tensor first = outputs.get(0);
                bct = new long[] {first.size(0), first.size(1), first.size(2), first.scalar_type().value};
                band = blendAndCrop(outputs, bct, first);
            }
            if (!resultOnAllRanks) {
                return gatherToRankZero(band, bct);
            }
            if (deal.activeRanks() < layout.worldSize) {
                bct = agreeShape(bct); // some world ranks have no tile and so do not know the output's shape
            }
            return broadcastBands(band, bct);
        }

        /** Runs tiles {@code [start, end)} through the VAE; the outputs are owned until cropped. */
        private List<Tensor> runTiles(TiledVae vae, int start, int end) {
            boolean encode = plan.direction() == TilePlan.Direction.ENCODE;
            List<Tensor> outputs = new ArrayList<>(end - start);
            long t0 = System.nanoTime();
            for (int t = start; t < end; t++) {
                Tensor out;
                try (PointerScope scope = new PointerScope()) {
                    Tensor part = tiles.get(t).cut(input);
                    out = encode ? vae.encodeTile(part) : vae.decodeTile(part);
                    own(out);
                }
                outputs.add(out);
            }
            tileNanos = System.nanoTime() - t0;
            return outputs;
        }

        /**
         * Blends this rank's tile outputs in single-rank order (receiving the strips of earlier tiles
         * from the previous rank, sending the strips later tiles need to the next), crops each into
         * one flat band, and frees each raw output once its strips are taken.
         */
        private Tensor blendAndCrop(List<Tensor> outputs, long[] bct, Tensor like) {
            int me = layout.vaeRank;
            int start = deal.start(me);
            int end = deal.end(me);
            Map<Integer, Tensor> bottom = new HashMap<>(); // tile -> its blended bottom strip
            Tensor right = null; // blended right strip of the tile before the current one
            if (me > 0) {
                Frontier in = new Frontier(start, bct);
                if (in.numel > 0) {
                    Tensor buffer = like.new_empty(in.numel);
                    held.add(buffer);
                    layout.vae.recvAsync(buffer, me - 1).await();
                    right = in.unpack(buffer, bottom);
                }
            }
            Tensor band = like.new_empty(bandNumel(me, bct));
            held.add(band);
            long offset = 0;
            for (int t = start; t < end; t++) {
                Tensor out = outputs.get(t - start);
                TilePlan.Tile tile = tiles.get(t);
                try (PointerScope scope = new PointerScope()) {
                    if (tile.row() > 0) {
                        Tensor above = bottom.remove(t - columns);
                        TilePlan.blendVertical(above, out, extent);
                        disown(above);
                    }
                    if (tile.column() > 0) {
                        TilePlan.blendHorizontal(right, out, extent);
                        disown(right);
                    }
                    // The tile is final now: keep the strips its lower and right neighbours will read.
                    if (t + columns < tiles.size()) {
                        long h = Math.min(out.size(3), extent);
                        bottom.put(t, ownCopy(out.narrow(3, out.size(3) - h, h)));
                    }
                    if (tile.column() + 1 < columns) {
                        long w = Math.min(out.size(4), extent);
                        right = ownCopy(out.narrow(4, out.size(4) - w, w));
                    } else {
                        right = null;
                    }
                    // tile[:, :, :, :keep, :keep] into the band
                    long h = croppedHeight(tile);
                    long w = croppedWidth(tile);
                    long n = bct[0] * bct[1] * bct[2] * h * w;
                    band.narrow(0, offset, n).view(bct[0], bct[1], bct[2], h, w)
                            .copy_(out.narrow(3, 0, h).narrow(4, 0, w));
                    offset += n;
                }
                disown(out);
                outputs.set(t - start, null);
            }
            if (me + 1 < deal.activeRanks()) {
                Frontier next = new Frontier(end, bct);
                if (next.numel > 0) {
                    Tensor buffer = next.pack(band, bottom, right); // band: the raw tiles are freed by now
                    held.add(buffer);
                    // Awaited at the end of the run: the next rank posts its receive only after its tiles.
                    pendingSends.add(layout.vae.sendAsync(buffer, me + 1));
                }
            }
            return band;
        }

        /** A contiguous copy of a strip, owned (it outlives the tile's scope, not the tile's memory). */
        private Tensor ownCopy(Tensor view) {
            Tensor copy = view.clone().contiguous();
            own(copy);
            return copy;
        }

        /** Result on world rank 0 only: bands go point to point over the VAE group to its rank 0. */
        private Tensor gatherToRankZero(Tensor band, long[] bct) {
            int me = layout.vaeRank;
            if (me > 0 && band != null) {
                pendingSends.add(layout.vae.sendAsync(band, 0));
                return input.new_empty(0);
            }
            if (me != 0) {
                return input.new_empty(0);
            }
            Tensor result = allocateResult(bct);
            unpackBand(band, 0, bct, result);
            for (int r = 1; r < deal.activeRanks(); r++) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor buffer = band.new_empty(bandNumel(r, bct));
                    held.add(buffer);
                    layout.vae.recvAsync(buffer, r).await();
                    unpackBand(buffer, r, bct, result);
                    held.remove(buffer);
                }
            }
            return result;
        }

        /** Result everywhere: each VAE rank's band broadcast over the world from its owner. */
        private Tensor broadcastBands(Tensor band, long[] bct) {
            Tensor result = allocateResult(bct);
            for (int r = 0; r < deal.activeRanks(); r++) {
                if (r == layout.vaeRank) {
                    layout.world.broadcast(band, r);
                    unpackBand(band, r, bct, result);
                    continue;
                }
                try (PointerScope scope = new PointerScope()) {
                    Tensor buffer = result.new_empty(bandNumel(r, bct));
                    held.add(buffer);
                    layout.world.broadcast(buffer, r); // world rank r is VAE rank r (checked in Layout)
                    unpackBand(buffer, r, bct, result);
                    held.remove(buffer);
                }
            }
            return result;
        }

        /** (B, C, T, dtype) of the tile outputs, learnt from VAE rank 0 by every world rank. */
        private long[] agreeShape(long[] bct) {
            try (PointerScope scope = new PointerScope()) {
                Tensor t = input.new_zeros(new long[] {4}, new TensorOptions(ScalarType.Long));
                if (bct != null) {
                    for (int i = 0; i < 4; i++) {
                        t.narrow(0, i, 1).fill_(new Scalar(bct[i]));
                    }
                }
                layout.world.allReduce(t, ReduceOp.MAX);
                long[] agreed = new long[4];
                for (int i = 0; i < 4; i++) {
                    agreed[i] = t.narrow(0, i, 1).item_long();
                }
                return agreed;
            }
        }

        private Tensor allocateResult(long[] bct) {
            long height = 0;
            long width = 0;
            for (TilePlan.Tile t : tiles) {
                if (t.column() == 0) {
                    height += croppedHeight(t);
                }
                if (t.row() == 0) {
                    width += croppedWidth(t);
                }
            }
            Tensor result = input.new_empty(new long[] {bct[0], bct[1], bct[2], height, width},
                    new TensorOptions(scalarType(bct[3])));
            held.add(result);
            return result;
        }

        /** Copies the cropped tiles of {@code rank}'s band into their places in {@code result}. */
        private void unpackBand(Tensor band, int rank, long[] bct, Tensor result) {
            try (PointerScope scope = new PointerScope()) {
                long offset = 0;
                for (int t = deal.start(rank); t < deal.end(rank); t++) {
                    TilePlan.Tile tile = tiles.get(t);
                    long h = croppedHeight(tile);
                    long w = croppedWidth(tile);
                    long n = bct[0] * bct[1] * bct[2] * h * w;
                    result.narrow(3, tile.row() * (long) plan.keep(), h).narrow(4, tile.column() * (long) plan.keep(), w)
                            .copy_(band.narrow(0, offset, n).view(bct[0], bct[1], bct[2], h, w));
                    offset += n;
                }
            }
        }

        private long bandNumel(int rank, long[] bct) {
            long n = 0;
            for (int t = deal.start(rank); t < deal.end(rank); t++) {
                n += croppedHeight(tiles.get(t)) * croppedWidth(tiles.get(t));
            }
            return n * bct[0] * bct[1] * bct[2];
        }

        private long croppedHeight(TilePlan.Tile t) {
            return Math.min(plan.keep(), plan.outputSize(t.height()));
        }

        private long croppedWidth(TilePlan.Tile t) {
            return Math.min(plan.keep(), plan.outputSize(t.width()));
        }

        /** Keeps {@code t} alive beyond the current scope until {@link #disown} (and counts it as held). */
        private void own(Tensor t) {
            t.retainReference();
            owned.add(t);
            held.add(t);
        }

        /** Frees an owned tensor now; a tensor that is not owned (a view of a message) is left alone. */
        private void disown(Tensor t) {
            if (t != null && owned.remove(t)) {
                held.remove(t);
                t.releaseReference();
            }
        }

        /** Waits for sends still in flight, then frees everything still owned. */
        void finish() {
            try {
                for (AsyncWork w : pendingSends) {
                    w.await();
                }
            } finally {
                pendingSends.clear();
                owned.forEach(Tensor::releaseReference);
                owned.clear();
            }
        }

        /**
         * The strips a run starting at tile {@code start} needs from the runs before it, in message
         * order: the blended bottom strip of each tile {@code t} in {@code [start - columns, start)}
         * that has a tile below it, then the blended right strip of tile {@code start - 1} if tile
         * {@code start} is not in the first column. A strip is {@code min(size, blend)} rows (columns)
         * deep, so blending with it is blending with the whole tile.
         */
        private final class Frontier {
            final List<Integer> bottomTiles = new ArrayList<>();
            final List<long[]> bottomShapes = new ArrayList<>();
            long[] rightShape;
            long numel;

            Frontier(int start, long[] bct) {
                for (int t = Math.max(0, start - columns); t < start; t++) {
                    if (t + columns < tiles.size()) {
                        long h = plan.outputSize(tiles.get(t).height());
                        long[] shape = {bct[0], bct[1], bct[2], Math.min(h, extent),
                            plan.outputSize(tiles.get(t).width())};
                        bottomTiles.add(t);
                        bottomShapes.add(shape);
                        numel += numel(shape);
                    }
                }
                if (start > 0 && start < tiles.size() && tiles.get(start).column() > 0) {
                    TilePlan.Tile left = tiles.get(start - 1);
                    long w = plan.outputSize(left.width());
                    rightShape = new long[] {bct[0], bct[1], bct[2], plan.outputSize(left.height()), Math.min(w, extent)};
                    numel += numel(rightShape);
                }
            }

            /** Fills {@code bottom} with views of {@code buffer}; returns the right strip or null. */
            Tensor unpack(Tensor buffer, Map<Integer, Tensor> bottom) {
                long offset = 0;
                for (int i = 0; i < bottomTiles.size(); i++) {
                    long[] s = bottomShapes.get(i);
                    bottom.put(bottomTiles.get(i), buffer.narrow(0, offset, numel(s)).view(s));
                    offset += numel(s);
                }
                return rightShape == null ? null : buffer.narrow(0, offset, numel(rightShape)).view(rightShape);
            }

            /** One contiguous message of the strips, in {@link #unpack} order. */
            Tensor pack(Tensor like, Map<Integer, Tensor> bottom, Tensor right) {
                Tensor buffer = like.new_empty(numel);
                long offset = 0;
                for (int i = 0; i < bottomTiles.size(); i++) {
                    long[] s = bottomShapes.get(i);
                    Tensor strip = bottom.get(bottomTiles.get(i));
                    buffer.narrow(0, offset, numel(s)).view(s).copy_(strip);
                    offset += numel(s);
                }
                if (rightShape != null) {
                    buffer.narrow(0, offset, numel(rightShape)).view(rightShape).copy_(right);
                }
                return buffer;
            }

            private static long numel(long[] shape) {
                long n = 1;
                for (long d : shape) {
                    n *= d;
                }
                return n;
            }
        }
    }

    private static ScalarType scalarType(long code) {
        for (ScalarType t : ScalarType.values()) {
            if (t.value == code) {
                return t;
            }
        }
        throw new DiffuseException("unknown tensor dtype code " + code + " agreed for the VAE output");
    }
}
