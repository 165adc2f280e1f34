package io.diffuse.api.cache;

import org.bytedeco.pytorch.Tensor;

/**
 * A transformer's block stack for one forward pass, as the model hands it to a {@link StepCache}.
 */
public interface BlockStack {
    /** Number of blocks. */
    int size();

    /** Runs blocks {@code [from, to)} on {@code states}; the results belong to the caller's PointerScope. */
    BlockStates run(int from, int to, BlockStates states);

    /**
     * The real video tokens of a tensor laid out like {@link BlockStates#hidden()} (tokens at dim 1):
     * a view without the sequence-parallel padding of this rank's shard.
     */
    Tensor validTokens(Tensor shardLike);

    /**
     * Element-wise sums of {@code local} over the ranks of the sequence-parallel group (the ranks that
     * share this sequence), so a statistic over the whole sequence is the same on each of them. Every
     * rank of the group must call it at the same point; with no sequence parallelism it returns
     * {@code local}.
     */
    double[] sumOverSequence(double[] local);
}
