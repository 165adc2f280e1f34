package io.diffuse.api.cache;

import java.util.List;

/**
 * One generation's step cache on one rank, created by a {@link StepCachePolicy}. The model calls
 * {@link #forward} in place of running its block stack, once per denoising step and guidance branch;
 * the cache runs the blocks it needs through {@link BlockStack} and stands in for the rest. State is
 * kept per {@link CacheStep#branch()}, as diffusers keys it by {@code cache_context}. Under sequence
 * parallelism every rank of the sequence group must take the same decision: statistics over the
 * video tokens go through {@link BlockStack#sumOverSequence}.
 */
public interface StepCache extends AutoCloseable {
    /**
     * The block stack's output for {@code input} at {@code step}: computed, or from cached residuals.
     * The returned tensors belong to the caller's PointerScope.
     */
    BlockStates forward(CacheStep step, BlockStates input, BlockStack blocks);

    /** Every decision so far, in call order. */
    List<CacheDecision> decisions();

    /** Frees the cached tensors. */
    @Override
    void close();
}
