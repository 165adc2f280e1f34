package io.diffuse.api.cache;

import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * The two streams between a transformer's blocks, one tensor per batch item: {@code hidden} this
 * rank's video tokens (1, n, D) (a sequence-parallel shard, possibly with padding at the end, see
 * {@link BlockStack#validTokens}), {@code encoder} the context tokens (1, M, D), replicated.
 */
public record BlockStates(List<Tensor> hidden, List<Tensor> encoder) {
    public BlockStates {
        hidden = List.copyOf(hidden);
        encoder = List.copyOf(encoder);
        if (hidden.size() != encoder.size()) {
            throw new IllegalArgumentException("hidden and encoder states need one tensor per batch item each, got "
                    + hidden.size() + " and " + encoder.size());
        }
    }

    /** Number of batch items. */
    public int items() {
        return hidden.size();
    }
}
