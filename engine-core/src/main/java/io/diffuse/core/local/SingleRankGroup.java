package io.diffuse.core.local;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ReduceOp;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.pytorch.Tensor;

/**
 * A process group of one rank. Every collective over one rank is the identity: reductions and
 * broadcasts leave the tensor as it is, gathers and all-to-alls return a copy. Calls are counted;
 * no bytes ever move, so byte counters stay zero. Point-to-point has no peer and is refused.
 */
final class SingleRankGroup implements ProcessGroup {
    private final String name;
    private final Map<String, AtomicLong> calls = new ConcurrentHashMap<>();

    SingleRankGroup(String name) {
        this.name = name;
    }

    private void count(String kind) {
        calls.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int size() {
        return 1;
    }

    @Override
    public List<Integer> globalRanks() {
        return List.of(0);
    }

    @Override
    public void allReduce(Tensor tensor, ReduceOp op) {
        count("all_reduce");
    }

    @Override
    public void broadcast(Tensor tensor, int root) {
        checkRank(root, "broadcast root");
        count("broadcast");
    }

    @Override
    public Tensor allGather(Tensor tensor) {
        count("all_gather");
        return tensor.clone();
    }

    @Override
    public Tensor allToAll(Tensor tensor) {
        count("all_to_all");
        return tensor.clone();
    }

    @Override
    public AsyncWork sendAsync(Tensor tensor, int dst) {
        throw new DiffuseException("group '" + name + "' has a single rank: there is no peer to send to (rank " + dst + ")");
    }

    @Override
    public AsyncWork recvAsync(Tensor into, int src) {
        throw new DiffuseException("group '" + name + "' has a single rank: there is no peer to receive from (rank " + src + ")");
    }

    @Override
    public void barrier() {
        count("barrier");
    }

    @Override
    public CommStats stats() {
        return new CommStats() {
            @Override
            public Map<String, Counter> snapshot() {
                Map<String, Counter> out = new java.util.TreeMap<>();
                calls.forEach((k, v) -> out.put(k, new Counter(v.get(), 0, 0)));
                return out;
            }

            @Override
            public void reset() {
                calls.clear();
            }
        };
    }

    private void checkRank(int r, String what) {
        if (r != 0) {
            throw new IllegalArgumentException(what + " " + r + " is outside group '" + name + "' of size 1");
        }
    }
}
