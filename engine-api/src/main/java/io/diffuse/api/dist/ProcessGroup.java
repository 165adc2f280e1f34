package io.diffuse.api.dist;

import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A group of ranks and the collectives the engine uses over it. Ranks passed to and returned by
 * the methods are group ranks (0..size-1) unless the name says global. Every collective must be
 * called by every member of the group, in the same order.
 *
 * <p>Tensors must be contiguous. Collectives that return a tensor allocate it; those that take an
 * output fill it in place. Every call is counted in {@link #stats()}.
 */
public interface ProcessGroup {
    /** What the group is for: "world", "ulysses", "ring", "sp", "cfg" or "vae", plus an index when there are several. */
    String name();

    /** This process's rank within the group. */
    int rank();

    /** Number of ranks in the group. */
    int size();

    /** Global ranks of the members, in group-rank order. */
    List<Integer> globalRanks();

    /** In-place all-reduce. */
    void allReduce(Tensor tensor, ReduceOp op);

    /** In-place broadcast from group rank {@code root}. */
    void broadcast(Tensor tensor, int root);

    /** Gathers equally shaped tensors from every rank, concatenated along dim 0 in group-rank order. */
    Tensor allGather(Tensor tensor);

    /**
     * Equal-split all-to-all over dim 0: the input's dim 0 is split into {@code size()} chunks, chunk
     * i goes to rank i, and the output holds chunk {@code rank()} of every rank in rank order.
     */
    Tensor allToAll(Tensor tensor);

    /** Starts sending {@code tensor} to group rank {@code dst}. */
    AsyncWork sendAsync(Tensor tensor, int dst);

    /** Starts receiving into {@code into} (contiguous, right shape and dtype) from group rank {@code src}. */
    AsyncWork recvAsync(Tensor into, int src);

    /** Blocks until every member arrived. */
    void barrier();

    /** Bytes and calls counted on this group since creation or the last {@link CommStats#reset()}. */
    CommStats stats();
}
