package io.diffuse.core.distributed;

import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.runtime.DeviceOps;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Runs every collective the engine uses (all_reduce, broadcast, all_gather, all_to_all, send/recv
 * around a ring, barrier) on the world and on each sub-group of a layout, checks every result
 * exactly, and times the collectives. Every rank must run it with the same arguments.
 *
 * <p>Payloads are fp32 tensors whose values are small integers (below 2^24) that encode the sending
 * rank, the receiving rank and the element index, so sums are exact and any misplaced chunk is seen.
 */
public final class CollectiveCheck {
    private static final double BLOCK = 1024;

    /**
     * One collective on one group, seen from this rank.
     *
     * @param group group name
     * @param groupSize ranks in the group
     * @param collective "all_reduce", "broadcast", "all_gather", "all_to_all", "send/recv" or "barrier"
     * @param payloadBytes bytes of this rank's input tensor per call
     * @param calls timed calls (the warm-up call is not counted)
     * @param seconds total time of the timed calls
     * @param bytesSent bytes this rank sent over all calls, from the group's accounting
     * @param bytesReceived bytes this rank received over all calls, from the group's accounting
     * @param mismatches calls whose result was wrong, warm-up included
     * @param firstMismatch description of the first wrong result, or null
     */
    public record Result(String group, int groupSize, String collective, long payloadBytes, int calls, double seconds,
            long bytesSent, long bytesReceived, int mismatches, String firstMismatch) {
        /** Mean time per call. */
        public double secondsPerCall() {
            return seconds / Math.max(1, calls);
        }

        /** Payload bandwidth: input bytes per second. */
        public double payloadBytesPerSecond() {
            return seconds > 0 ? payloadBytes * (double) calls / seconds : 0;
        }

        /** Wire bandwidth of this rank: accounted bytes sent per second. */
        public double sentBytesPerSecond() {
            return seconds > 0 ? bytesSent / seconds : 0;
        }
    }

    private CollectiveCheck() {
    }

    /** The distinct groups to check, world first. */
    public static List<ProcessGroup> groupsOf(ProcessGroups groups) {
        List<ProcessGroup> all = new ArrayList<>();
        for (ProcessGroup g : List.of(groups.world(), groups.ulysses(), groups.ring(), groups.sequence(), groups.cfg(),
                groups.vae())) {
            if (!all.contains(g)) {
                all.add(g);
            }
        }
        return all;
    }

    /**
     * Checks and times every collective on every group of {@code groups}.
     *
     * @param payloadBytes approximate bytes of each rank's input (rounded to whole fp32 elements that split evenly)
     * @param iterations timed and checked calls per collective and group (at least 1), after one untimed warm-up call
     * @param afterEach called with the iteration index after each round over one group, e.g. to report progress
     */
    public static List<Result> run(ProcessGroups groups, long payloadBytes, int iterations, IntConsumer afterEach) {
        return run(groups, new Device("cpu"), payloadBytes, iterations, afterEach);
    }

    /**
     * {@link #run(ProcessGroups, long, int, IntConsumer)} with every tensor on {@code device} (a CUDA
     * device for NCCL groups, which take no CPU tensors).
     */
    public static List<Result> run(ProcessGroups groups, Device device, long payloadBytes, int iterations,
            IntConsumer afterEach) {
        List<Result> results = new ArrayList<>();
        for (ProcessGroup g : groupsOf(groups)) {
            results.addAll(runGroup(g, device, payloadBytes, Math.max(1, iterations), afterEach));
        }
        return results;
    }

    private static List<Result> runGroup(ProcessGroup g, Device device, long payloadBytes, int iterations,
            IntConsumer afterEach) {
        int p = g.size();
        int me = g.rank();
        int myGlobal = g.globalRanks().get(me);
        long chunk = Math.max(1, payloadBytes / 4 / p);
        long n = chunk * p;
        Map<String, Acc> acc = new LinkedHashMap<>();
        for (String k : List.of("all_reduce", "broadcast", "all_gather", "all_to_all", "send/recv", "barrier")) {
            acc.put(k, new Acc());
        }
        // Round -1 warms up (connections, allocator) and is checked but neither timed nor counted.
        for (int it = -1; it < iterations; it++) {
            if (it == 0) {
                g.stats().reset();
                acc.values().forEach(Acc::clearTimes);
            }
            try (PointerScope scope = new PointerScope()) {
                // all_reduce SUM: rank j contributes idx + BLOCK*(j+1).
                Tensor x = pattern(device, n, BLOCK * (myGlobal + 1));
                double sumBase = 0;
                for (int j : g.globalRanks()) {
                    sumBase += BLOCK * (j + 1);
                }
                Tensor expected = pattern(device, n, 0).mul(new Scalar((double) p)).add(new Scalar(sumBase));
                long t0 = System.nanoTime();
                g.allReduce(x, ReduceOp.SUM);
                acc.get("all_reduce").add(System.nanoTime() - t0, n * 4, check(x, expected, "all_reduce SUM", g));

                // broadcast from a root that rotates with the iteration.
                int root = Math.floorMod(it, p);
                int rootGlobal = g.globalRanks().get(root);
                Tensor b = me == root ? pattern(device, n, BLOCK * (rootGlobal + 1))
                        : torch.full(new long[] {n}, new Scalar(-1.0), DeviceOps.options(torch.ScalarType.Float, device));
                t0 = System.nanoTime();
                g.broadcast(b, root);
                acc.get("broadcast").add(System.nanoTime() - t0, n * 4,
                        check(b, pattern(device, n, BLOCK * (rootGlobal + 1)), "broadcast from group rank " + root, g));

                // all_gather: chunk j of the output is rank j's input.
                Tensor mine = pattern(device, chunk, BLOCK * (myGlobal + 1));
                t0 = System.nanoTime();
                Tensor gathered = g.allGather(mine);
                long dt = System.nanoTime() - t0;
                TensorVector parts = new TensorVector();
                for (int j : g.globalRanks()) {
                    parts.push_back(pattern(device, chunk, BLOCK * (j + 1)));
                }
                acc.get("all_gather").add(dt, chunk * 4, check(gathered, torch.cat(parts), "all_gather", g));

                // all_to_all: chunk d of rank s carries BLOCK*(64*s + d); rank d gets chunk d of every s in order.
                TensorVector out = new TensorVector();
                TensorVector want = new TensorVector();
                for (int d = 0; d < p; d++) {
                    out.push_back(pattern(device, chunk, BLOCK * (64 * myGlobal + d)));
                    want.push_back(pattern(device, chunk, BLOCK * (64 * g.globalRanks().get(d) + me)));
                }
                Tensor a2aIn = torch.cat(out);
                t0 = System.nanoTime();
                Tensor a2a = g.allToAll(a2aIn);
                acc.get("all_to_all").add(System.nanoTime() - t0, n * 4, check(a2a, torch.cat(want), "all_to_all", g));

                // send to the next rank, receive from the previous one, both in flight at once.
                int next = (me + 1) % p;
                int prev = (me + p - 1) % p;
                Tensor send = pattern(device, n, BLOCK * (myGlobal + 1));
                Tensor recv = torch.full(new long[] {n}, new Scalar(-1.0), DeviceOps.options(torch.ScalarType.Float, device));
                t0 = System.nanoTime();
                AsyncWork s = g.sendAsync(send, next);
                AsyncWork r = g.recvAsync(recv, prev);
                s.await();
                r.await();
                acc.get("send/recv").add(System.nanoTime() - t0, n * 4,
                        check(recv, pattern(device, n, BLOCK * (g.globalRanks().get(prev) + 1)), "recv from group rank " + prev, g));

                t0 = System.nanoTime();
                g.barrier();
                acc.get("barrier").add(System.nanoTime() - t0, 0, null);
            }
            if (it >= 0) {
                afterEach.accept(it);
            }
        }
        Map<String, CommStats.Counter> stats = g.stats().snapshot();
        List<Result> results = new ArrayList<>();
        for (Map.Entry<String, Acc> e : acc.entrySet()) {
            String kind = e.getKey();
            CommStats.Counter c = kind.equals("send/recv")
                    ? stats.getOrDefault("send", zero()).plus(stats.getOrDefault("recv", zero()))
                    : stats.getOrDefault(kind, zero());
            Acc a = e.getValue();
            results.add(new Result(g.name(), p, kind, a.payload, a.calls, a.nanos / 1e9, c.bytesSent(), c.bytesReceived(),
                    a.mismatches, a.firstMismatch));
        }
        return results;
    }

    private static CommStats.Counter zero() {
        return new CommStats.Counter(0, 0, 0);
    }

    /** idx mod BLOCK plus base, as fp32: exact small integers. */
    private static Tensor pattern(Device device, long n, double base) {
        return torch.arange(new Scalar(n), DeviceOps.options(torch.ScalarType.Long, device)).remainder(new Scalar(BLOCK)).to(torch.ScalarType.Float).add(new Scalar(base));
    }

    private static String check(Tensor actual, Tensor expected, String what, ProcessGroup g) {
        if (actual.sizes().vec().get().length == expected.sizes().vec().get().length && actual.equal(expected)) {
            return null;
        }
        double diff = actual.numel() == expected.numel()
                ? actual.sub(expected).abs().max().item_double()
                : Double.NaN;
        return what + " on group " + g.name() + " (rank " + g.rank() + " of " + g.size() + ") gave a wrong result"
                + (Double.isNaN(diff) ? " (wrong size " + actual.numel() + ", expected " + expected.numel() + ")"
                        : " (max abs difference " + diff + ")");
    }

    private static final class Acc {
        long nanos;
        int calls;
        long payload;
        int mismatches;
        String firstMismatch;

        void clearTimes() {
            nanos = 0;
            calls = 0;
        }

        void add(long dt, long payloadBytes, String mismatch) {
            nanos += dt;
            calls++;
            payload = payloadBytes;
            if (mismatch != null) {
                mismatches++;
                if (firstMismatch == null) {
                    firstMismatch = mismatch;
                }
            }
        }
    }
}
