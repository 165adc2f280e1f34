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
 *       (its critical path is the single-rank blend time). The first run needs no strips, so its
 *       tiles are finalised one by one as they are computed.</li>
 *   <li><b>Assemble.</b> Each finalised tile is cropped straight into the result on ranks that keep
 *       it, and its raw output freed at once. Where only world rank 0 needs the result, every other
 *       rank sends each cropped tile as its own message, which rank 0 copies into place; with
 *       {@link VaeRun#resultOnAllRanks()} every cropped tile is broadcast over the world from its
 *       owner (exact sizes, no padding, no relay), so ranks outside the VAE group get the result
 *       too. Either way no rank holds a band of tiles beside the result.</li>
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
 * <p>Per-rank memory: VAE rank 0 holds the result, one raw tile output, at most a row of strips and
 * one received tile; a later rank holds its own tiles' raw outputs until the previous rank's strips
 * arrive, then trades each for its cropped copy in flight (plus the result where it keeps one).
 * Traffic: the strips (one message per neighbouring pair of ranks) plus the cropped tiles.
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
     *        (tile outputs, strips, messages, result; not the VAE's own activations)
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
        /** Tensors retained beyond their scope; released by {@link #disown} or {@link #finish()}. */
        private final Set<Tensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
        /** Sends not yet known to be complete; their buffers must stay alive until awaited. */
        private final List<AsyncWork> pendingSends = new ArrayList<>();
        final Held held = new Held();
        long tileNanos;
        /** (B, C, T, dtype code) of the tile outputs; null until known. */
        private long[] bct;
        /** The merged output, on ranks that keep it; allocated once the first tile output is known. */
        private Tensor result;
        /** Whether this rank keeps the merged output (every rank, or world rank 0 only). */
        private boolean keepsResult;
        /** Blended bottom strips still to be read, by tile: own tiles' copies, or views of the received message. */
        private final Map<Integer, Tensor> bottom = new HashMap<>();
        /** Blended right strip of the tile before the one being finalised, or null. */
        private Tensor right;
        /** The strips the next rank needs, and the message they are written into as they become final. */
        private Frontier next;
        private Tensor nextMessage;

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
            keepsResult = resultOnAllRanks || layout.worldRank == 0;
            if (me >= 0 && deal.end(me) > deal.start(me)) {
                runAndPlace(vae, deal.start(me), deal.end(me));
            }
            if (!resultOnAllRanks) {
                return gatherToRankZero();
            }
            if (deal.activeRanks() < layout.worldSize) {
                bct = agreeShape(bct); // some world ranks have no tile and so do not know the output's shape
            }
            return broadcastTiles();
        }

        /**
         * Runs tiles {@code [start, end)} through the VAE and finalises them in single-rank order:
         * blend with the strips above and to the left, keep (or write straight into the next rank's
         * message) the strips later tiles need, place the cropped tile, free the raw output. The
         * first run depends on nothing, so each of its tiles is finalised as soon as it is computed
         * and only one raw output is alive at a time; a later run needs the previous rank's strips,
         * which come after that rank's tiles, so it computes all its tiles (in parallel with the
         * other ranks) before finalising them.
         */
        private void runAndPlace(TiledVae vae, int start, int end) {
            if (start == 0) {
                for (int t = start; t < end; t++) {
                    Tensor out = runTile(vae, t);
                    learnShape(out, end);
                    finalizeTile(t, end, out);
                }
            } else {
                List<Tensor> outputs = new ArrayList<>(end - start);
                for (int t = start; t < end; t++) {
                    outputs.add(runTile(vae, t));
                }
                learnShape(outputs.get(0), end);
                Frontier in = new Frontier(start, bct);
                Tensor received = null;
                if (in.numel > 0) {
                    received = outputs.get(0).new_empty(in.numel);
                    own(received);
                    layout.vae.recvAsync(received, layout.vaeRank - 1).await();
                    right = in.unpack(received, bottom);
                }
                for (int t = start; t < end; t++) {
                    finalizeTile(t, end, outputs.set(t - start, null));
                }
                // Strips of earlier ranks' tiles that the next rank needs too (a run shorter than a row).
                if (next != null) {
                    try (PointerScope scope = new PointerScope()) {
                        for (int t : next.bottomTiles) {
                            if (t < start) {
                                next.bottomView(nextMessage, t).copy_(bottom.remove(t));
                            }
                        }
                    }
                }
                disown(received);
            }
            if (nextMessage != null) {
                // Awaited at the end of the run: the next rank posts its receive only after its tiles.
                pendingSends.add(layout.vae.sendAsync(nextMessage, layout.vaeRank + 1));
            }
        }

        /** One tile through the VAE; the output is owned until finalised. */
        private Tensor runTile(TiledVae vae, int t) {
            long t0 = System.nanoTime();
            Tensor out;
            try (PointerScope scope = new PointerScope()) {
                Tensor part = tiles.get(t).cut(input);
                out = plan.direction() == TilePlan.Direction.ENCODE ? vae.encodeTile(part) : vae.decodeTile(part);
                own(out);
            }
            tileNanos += System.nanoTime() - t0;
            return out;
        }

        /**
         * Learns (B, C, T, dtype) from the first tile output; allocates the result where this rank
         * keeps it, and the message for the next rank.
         */
        private void learnShape(Tensor first, int end) {
            if (bct != null) {
                return;
            }
            bct = new long[] {first.size(0), first.size(1), first.size(2), first.scalar_type().value};
            if (keepsResult) {
                result = allocateResult(bct); // here, outside every tile's scope, so it lives as long as the run
            }
            if (layout.vaeRank + 1 < deal.activeRanks()) {
                Frontier f = new Frontier(end, bct);
                if (f.numel > 0) {
                    next = f;
                    nextMessage = first.new_empty(f.numel);
                    own(nextMessage); // freed in finish(), after its send completed
                }
            }
        }

        /**
         * Blends tile {@code t} (raw output {@code out}) with its upper and left neighbours, takes the
         * strips its lower and right neighbours will read, places the cropped tile and frees
         * {@code out}. {@code end} is one past the last tile of this rank's run.
         */
        private void finalizeTile(int t, int end, Tensor out) {
            TilePlan.Tile tile = tiles.get(t);
            Tensor toRankZero;
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
                // The tile is final now: keep the strips its lower and right neighbours will read; those of
                // neighbours on the next rank go straight into its message.
                if (t + columns < tiles.size()) {
                    long h = Math.min(out.size(3), extent);
                    Tensor strip = out.narrow(3, out.size(3) - h, h);
                    if (t + columns < end) {
                        bottom.put(t, ownCopy(strip));
                    } else {
                        nextStrips().bottomView(nextMessage, t).copy_(strip);
                    }
                }
                right = null;
                if (tile.column() + 1 < columns) {
                    long w = Math.min(out.size(4), extent);
                    Tensor strip = out.narrow(4, out.size(4) - w, w);
                    if (t + 1 < end) {
                        right = ownCopy(strip);
                    } else {
                        nextStrips().rightView(nextMessage).copy_(strip);
                    }
                }
                // tile[:, :, :, :keep, :keep]
                toRankZero = place(t, out.narrow(3, 0, croppedHeight(tile)).narrow(4, 0, croppedWidth(tile)));
            }
            disown(out);
            if (toRankZero != null) {
                // Posted outside the tile's scope: the send's own native objects must outlive it.
                pendingSends.add(layout.vae.sendAsync(toRankZero, 0));
            }
        }

        private Frontier nextStrips() {
            if (next == null) {
                throw new IllegalStateException("a strip for the next rank, but no next rank needs strips");
            }
            return next;
        }

        /**
         * Puts a cropped tile where it belongs: straight into the result where this rank keeps it,
         * else into its own message to world rank 0, returned (owned until its send completes);
         * null when placed in the result.
         */
        private Tensor place(int t, Tensor cropped) {
            if (keepsResult) {
                region(t).copy_(cropped);
                return null;
            }
            Tensor message = cropped.new_empty(cropped.sizes().vec().get());
            message.copy_(cropped);
            own(message);
            return message;
        }

        /** A contiguous copy of a strip, owned (it outlives the tile's scope, not the tile's memory). */
        private Tensor ownCopy(Tensor view) {
            Tensor copy = view.clone().contiguous();
            own(copy);
            return copy;
        }

        /**
         * Result on world rank 0 only: every other VAE rank sent each cropped tile in its own message
         * (one message per tile, so rank 0 holds at most one tile beside the result); rank 0 copies
         * them into place, rank by rank, in tile order.
         */
        private Tensor gatherToRankZero() {
            if (layout.worldRank != 0) {
                return input.new_empty(0);
            }
            if (result == null) {
                result = allocateResult(bct);
            }
            for (int r = 1; r < deal.activeRanks(); r++) {
                for (int t = deal.start(r); t < deal.end(r); t++) {
                    try (PointerScope scope = new PointerScope()) {
                        Tensor region = region(t);
                        Tensor buffer = result.new_empty(region.sizes().vec().get());
                        held.add(buffer);
                        layout.vae.recvAsync(buffer, r).await();
                        region.copy_(buffer);
                        held.remove(buffer);
                    }
                }
            }
            return result;
        }

        /**
         * Result everywhere: each cropped tile broadcast over the world from the rank that made it
         * (one tile at a time, so no rank holds more than one tile beside the result).
         */
        private Tensor broadcastTiles() {
            if (result == null) {
                result = allocateResult(bct);
            }
            for (int r = 0; r < deal.activeRanks(); r++) {
                for (int t = deal.start(r); t < deal.end(r); t++) {
                    try (PointerScope scope = new PointerScope()) {
                        Tensor region = region(t);
                        Tensor buffer = result.new_empty(region.sizes().vec().get());
                        held.add(buffer);
                        if (r == layout.vaeRank) {
                            buffer.copy_(region);
                            layout.world.broadcast(buffer, r); // world rank r is VAE rank r (checked in Layout)
                        } else {
                            layout.world.broadcast(buffer, r);
                            region.copy_(buffer);
                        }
                        held.remove(buffer);
                    }
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

        /** The view of the result that cropped tile {@code t} fills. */
        private Tensor region(int t) {
            TilePlan.Tile tile = tiles.get(t);
            return result.narrow(3, tile.row() * (long) plan.keep(), croppedHeight(tile))
                    .narrow(4, tile.column() * (long) plan.keep(), croppedWidth(tile));
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

            /** The view of {@code buffer} that holds tile {@code t}'s bottom strip. */
            Tensor bottomView(Tensor buffer, int t) {
                long offset = 0;
                for (int i = 0; i < bottomTiles.size(); i++) {
                    long[] s = bottomShapes.get(i);
                    if (bottomTiles.get(i) == t) {
                        return buffer.narrow(0, offset, numel(s)).view(s);
                    }
                    offset += numel(s);
                }
                throw new IllegalStateException("tile " + t + " has no bottom strip in this message");
            }

            /** The view of {@code buffer} that holds the right strip. */
            Tensor rightView(Tensor buffer) {
                if (rightShape == null) {
                    throw new IllegalStateException("this message has no right strip");
                }
                return buffer.narrow(0, numel - numel(rightShape), numel(rightShape)).view(rightShape);
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
