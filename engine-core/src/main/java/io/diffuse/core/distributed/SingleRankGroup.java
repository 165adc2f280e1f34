package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ReduceOp;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A group of one rank, with no communication: reductions and broadcasts leave the tensor as it is,
 * gathers return a copy, and a send to itself is delivered to the next receive from itself (in
 * order), as a ring of one would. Calls are counted; bytes are always 0.
 */
public final class SingleRankGroup implements ProcessGroup {
    private final String name;
    private final int globalRank;
    private final CommCounters stats = new CommCounters();
    private final Deque<Tensor> mailbox = new ArrayDeque<>();

    /** A group called {@code name} holding only global rank {@code globalRank}. */
    public SingleRankGroup(String name, int globalRank) {
        this.name = name;
        this.globalRank = globalRank;
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
        return List.of(globalRank);
    }

    @Override
    public void allReduce(Tensor tensor, ReduceOp op) {
        stats.record("all_reduce", 0, 0);
    }

    @Override
    public void broadcast(Tensor tensor, int root) {
        checkPeer("broadcast", root);
        stats.record("broadcast", 0, 0);
    }

    @Override
    public Tensor allGather(Tensor tensor) {
        stats.record("all_gather", 0, 0);
        return tensor.dim() == 0 ? tensor.reshape(1).clone() : tensor.clone();
    }

    @Override
    public Tensor allToAll(Tensor tensor) {
        stats.record("all_to_all", 0, 0);
        return tensor.clone();
    }

    @Override
    public AsyncWork sendAsync(Tensor tensor, int dst) {
        checkPeer("send", dst);
        stats.record("send", 0, 0);
        Tensor copy = tensor.clone();
        // The copy outlives the caller's PointerScope until a matching receive takes it.
        copy.retainReference();
        synchronized (mailbox) {
            mailbox.addLast(copy);
        }
        return () -> { };
    }

    @Override
    public AsyncWork recvAsync(Tensor into, int src) {
        checkPeer("recv", src);
        stats.record("recv", 0, 0);
        return () -> {
            Tensor sent;
            synchronized (mailbox) {
                sent = mailbox.pollFirst();
            }
            if (sent == null) {
                throw new DiffuseException("recv on group " + name + " (a single rank) has no matching send: post the send to "
                        + "rank 0 before awaiting the receive");
            }
            try {
                into.copy_(sent);
            } finally {
                sent.releaseReference();
            }
        };
    }

    @Override
    public void barrier() {
        stats.record("barrier", 0, 0);
    }

    @Override
    public CommStats stats() {
        return stats;
    }

    private void checkPeer(String kind, int r) {
        if (r != 0) {
            throw new DiffuseException(kind + " on group " + name + " (a single rank): rank " + r + " is outside 0..0");
        }
    }
}
