package io.diffuse.usp.ranks;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ReduceOp;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;

/**
 * Test-side {@link ProcessGroup} over a c10d Gloo backend, with the accounting conventions of
 * {@link CommStats} (all-to-all sends (P-1)/P of its input, ring all-gather sends its input to P-1
 * peers). Stands in for engine-core's runtime group until that lands; real collectives, no fakes.
 */
final class GlooGroup implements ProcessGroup {
    private final String name;
    private final ProcessGroupGloo backend;
    private final int rank;
    private final List<Integer> globalRanks;
    private final Stats stats = new Stats();

    GlooGroup(String name, ProcessGroupGloo backend, int rank, List<Integer> globalRanks) {
        this.name = name;
        this.backend = backend;
        this.rank = rank;
        this.globalRanks = List.copyOf(globalRanks);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return globalRanks.size();
    }

    @Override
    public List<Integer> globalRanks() {
        return globalRanks;
    }

    private static long bytes(Tensor t) {
        return t.numel() * t.element_size();
    }

    private static void await(Work work) {
        if (!work._wait()) {
            throw new DiffuseException("collective did not complete");
        }
    }

    @Override
    public void allReduce(Tensor tensor, ReduceOp op) {
        org.bytedeco.pytorch.ReduceOp.RedOpType type = switch (op) {
            case SUM -> org.bytedeco.pytorch.ReduceOp.RedOpType.SUM;
            case MAX -> org.bytedeco.pytorch.ReduceOp.RedOpType.MAX;
            case MIN -> org.bytedeco.pytorch.ReduceOp.RedOpType.MIN;
            case PRODUCT -> org.bytedeco.pytorch.ReduceOp.RedOpType.PRODUCT;
        };
        await(backend.allreduce(new TensorVector(tensor),
                new AllreduceOptions().reduceOp(new org.bytedeco.pytorch.ReduceOp(type))));
        long b = 2 * bytes(tensor) * (size() - 1) / size();
        stats.add("all_reduce", b, b);
    }

    @Override
    public void broadcast(Tensor tensor, int root) {
        await(backend.broadcast(new TensorVector(tensor), new BroadcastOptions().rootRank(root)));
        stats.add("broadcast", rank == root ? bytes(tensor) * (size() - 1) : 0, rank == root ? 0 : bytes(tensor));
    }

    @Override
    public Tensor allGather(Tensor tensor) {
        long[] shape = tensor.sizes().vec().get();
        shape[0] *= size();
        Tensor out = tensor.new_empty(shape);
        await(backend._allgather_base(out, tensor));
        stats.add("all_gather", bytes(tensor) * (size() - 1), bytes(tensor) * (size() - 1));
        return out;
    }

    @Override
    public Tensor allToAll(Tensor tensor) {
        Tensor out = org.bytedeco.pytorch.global.torch.empty_like(tensor);
        await(backend.alltoall_base(out, tensor, new LongVector(), new LongVector()));
        long b = bytes(tensor) * (size() - 1) / size();
        stats.add("all_to_all", b, b);
        return out;
    }

    @Override
    public AsyncWork sendAsync(Tensor tensor, int dst) {
        Work work = backend.send(new TensorVector(tensor), dst, 0);
        stats.add("send", bytes(tensor), 0);
        return () -> await(work);
    }

    @Override
    public AsyncWork recvAsync(Tensor into, int src) {
        Work work = backend.recv(new TensorVector(into), src, 0);
        stats.add("recv", 0, bytes(into));
        return () -> await(work);
    }

    @Override
    public void barrier() {
        await(backend.barrier());
        stats.add("barrier", 0, 0);
    }

    @Override
    public CommStats stats() {
        return stats;
    }

    private static final class Stats implements CommStats {
        private final Map<String, Counter> counters = new TreeMap<>();

        synchronized void add(String kind, long sent, long received) {
            counters.merge(kind, new Counter(1, sent, received), Counter::plus);
        }

        @Override
        public synchronized Map<String, Counter> snapshot() {
            return Map.copyOf(counters);
        }

        @Override
        public synchronized void reset() {
            counters.clear();
        }
    }
}
