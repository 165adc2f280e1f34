package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.CollectiveException;
import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ReduceOp;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;

/**
 * A {@link ProcessGroup} over a c10d backend (ProcessGroupGloo or ProcessGroupNCCL) with
 * collective accounting per {@link CommVolume}. Every failure, including a timeout or a peer that
 * went away, becomes a {@link DiffuseException} naming the group, the collective and this rank.
 *
 * <p>Not thread-safe: one rank drives its groups from one thread (overlap comes from the async
 * send/recv works, not from concurrent calls).
 */
final class C10dProcessGroup implements ProcessGroup, AutoCloseable {
    private final String name;
    private final Backend backend;
    private final List<Integer> globalRanks;
    private final int rank;
    private final Duration timeout;
    private final CommCounters stats = new CommCounters();
    private volatile boolean closed;

    C10dProcessGroup(String name, Backend backend, List<Integer> globalRanks, int rank, Duration timeout) {
        this.name = name;
        this.backend = backend;
        this.globalRanks = List.copyOf(globalRanks);
        this.rank = rank;
        this.timeout = timeout;
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

    @Override
    public CommStats stats() {
        return stats;
    }

    @Override
    public void allReduce(Tensor tensor, ReduceOp op) {
        check("all_reduce", tensor);
        long bytes = tensor.nbytes();
        run("all_reduce", () -> {
            AllreduceOptions opts = new AllreduceOptions();
            opts.reduceOp(new org.bytedeco.pytorch.ReduceOp(switch (op) {
                case SUM -> org.bytedeco.pytorch.ReduceOp.RedOpType.SUM;
                case MAX -> org.bytedeco.pytorch.ReduceOp.RedOpType.MAX;
                case MIN -> org.bytedeco.pytorch.ReduceOp.RedOpType.MIN;
                case PRODUCT -> org.bytedeco.pytorch.ReduceOp.RedOpType.PRODUCT;
            }));
            return backend.allreduce(new TensorVector(tensor), opts);
        });
        long v = CommVolume.allReduce(bytes, size());
        stats.record("all_reduce", v, v);
    }

    @Override
    public void broadcast(Tensor tensor, int root) {
        check("broadcast", tensor);
        checkRank("broadcast", "root", root);
        long bytes = tensor.nbytes();
        run("broadcast", () -> {
            BroadcastOptions opts = new BroadcastOptions();
            opts.rootRank(root);
            opts.rootTensor(0);
            return backend.broadcast(new TensorVector(tensor), opts);
        });
        boolean isRoot = root == rank;
        stats.record("broadcast", CommVolume.broadcastSent(bytes, size(), isRoot),
                CommVolume.broadcastReceived(bytes, size(), isRoot));
    }

    @Override
    public Tensor allGather(Tensor tensor) {
        check("all_gather", tensor);
        long[] shape = tensor.sizes().vec().get();
        long[] outShape = shape.length == 0 ? new long[] {size()} : shape.clone();
        if (shape.length > 0) {
            outShape[0] = shape[0] * size();
        }
        // Allocated outside the internal scope so it belongs to the caller's scope, if any.
        Tensor out = tensor.new_empty(outShape);
        Tensor in = shape.length == 0 ? tensor.reshape(1) : tensor;
        run("all_gather", () -> backend._allgather_base(out, in));
        long v = CommVolume.allGather(tensor.nbytes(), size());
        stats.record("all_gather", v, v);
        return out;
    }

    @Override
    public Tensor allToAll(Tensor tensor) {
        check("all_to_all", tensor);
        if (tensor.dim() == 0 || tensor.size(0) % size() != 0) {
            throw new DiffuseException("all_to_all on group " + describe() + ": dim 0 of shape "
                    + java.util.Arrays.toString(tensor.sizes().vec().get()) + " is not divisible by the group size "
                    + size() + "; pad or reshape the input to an equal split");
        }
        Tensor out = tensor.new_empty(tensor.sizes().vec().get());
        run("all_to_all", () -> backend.alltoall_base(out, tensor, new LongVector(), new LongVector()));
        long v = CommVolume.allToAll(tensor.nbytes(), size());
        stats.record("all_to_all", v, v);
        return out;
    }

    @Override
    public AsyncWork sendAsync(Tensor tensor, int dst) {
        check("send", tensor);
        checkRank("send", "destination", dst);
        return startPointToPoint("send", tensor, dst, true);
    }

    @Override
    public AsyncWork recvAsync(Tensor into, int src) {
        check("recv", into);
        checkRank("recv", "source", src);
        return startPointToPoint("recv", into, src, false);
    }

    @Override
    public void barrier() {
        ensureOpen("barrier");
        run("barrier", backend::barrier);
        stats.record("barrier", 0, 0);
    }

    /**
     * Destroys the backend: its connections close, so peers blocked on this rank fail at once
     * ("connection closed by peer") instead of waiting for their timeout.
     */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            backend.close();
        }
    }

    private AsyncWork startPointToPoint(String kind, Tensor tensor, int peer, boolean send) {
        long bytes = tensor.nbytes();
        // The vector holds a reference to the tensor's storage until the transfer is awaited.
        TensorVector vec = new TensorVector(tensor);
        Work work;
        try {
            work = send ? backend.send(vec, peer, 0) : backend.recv(vec, peer, 0);
        } catch (RuntimeException e) {
            vec.close();
            throw failure(kind, e);
        }
        stats.record(kind, send ? bytes : 0, send ? 0 : bytes);
        return new AsyncWork() {
            private boolean done;

            @Override
            public void await() {
                if (done) {
                    return;
                }
                done = true;
                try {
                    work._wait();
                } catch (RuntimeException e) {
                    throw failure(kind + (send ? " to" : " from") + " group rank " + peer, e);
                } finally {
                    work.close();
                    vec.close();
                }
            }
        };
    }

    private void run(String kind, Supplier<Work> start) {
        ensureOpen(kind);
        try (PointerScope scope = new PointerScope()) {
            Work work = start.get();
            work._wait();
        } catch (RuntimeException e) {
            throw failure(kind, e);
        }
    }

    private DiffuseException failure(String kind, RuntimeException e) {
        if (e instanceof DiffuseException de) {
            return de; // already explained (a CollectiveException, or a check of the arguments)
        }
        String cause = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
        return new CollectiveException(kind + " on group " + describe() + " failed: " + cause
                + " (a peer rank may have died or stalled; collectives wait at most " + timeout.toSeconds()
                + "s, diffuse.dist.timeout)", e);
    }

    private String describe() {
        return name + " (rank " + rank + " of " + size() + ", global ranks " + globalRanks + ")";
    }

    private void ensureOpen(String kind) {
        if (closed) {
            throw new CollectiveException(kind + " on group " + describe() + ": the group was shut down");
        }
    }

    private void check(String kind, Tensor tensor) {
        ensureOpen(kind);
        if (!tensor.is_contiguous()) {
            throw new DiffuseException(kind + " on group " + describe() + " needs a contiguous tensor; call contiguous() first");
        }
    }

    private void checkRank(String kind, String role, int r) {
        if (r < 0 || r >= size()) {
            throw new DiffuseException(kind + " on group " + describe() + ": " + role + " rank " + r
                    + " is outside 0.." + (size() - 1));
        }
    }
}
