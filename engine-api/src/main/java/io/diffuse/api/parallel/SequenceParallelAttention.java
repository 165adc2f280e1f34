package io.diffuse.api.parallel;

import io.diffuse.api.dist.CommStats;
import org.bytedeco.pytorch.Tensor;

/**
 * Attention over a token sequence whose video part is sharded across the ranks of a
 * sequence-parallel group, created by a {@link ParallelStrategy} for one model run.
 *
 * <p>The model calls {@link #shard} once on its video tokens after patch embedding (and on any
 * per-token tables such as RoPE), runs its blocks on the shard, calls {@link #attention} wherever it
 * attends, and {@link #gather}s before unpatchify. The output equals the single-rank output for any
 * token count: padding added by {@code shard} is never visible as a key.
 *
 * <p>Layout convention: query/key/value are (B, S, H, D): batch, sequence, heads, head dim.
 */
public interface SequenceParallelAttention {
    /** Number of ranks the sequence is split over. */
    int degree();

    /** This rank's shard index in [0, degree). */
    int index();

    /** The layout for a sequence of {@code length} tokens. */
    default SequenceLayout layout(long length) {
        return new SequenceLayout(length, degree());
    }

    /**
     * This rank's shard of {@code full} along {@code dim}, zero-padded at the end so every rank holds
     * {@code layout(full.size(dim)).shardLength()} entries.
     */
    Tensor shard(Tensor full, long dim);

    /** Reassembles the full sequence along {@code dim} on every rank, dropping the padding. */
    Tensor gather(Tensor shard, long dim, SequenceLayout layout);

    /**
     * Joint attention: this rank's video queries (and every joint query) over all video keys of the
     * group plus the joint keys; scale 1/sqrt(D). Padded video keys ({@code layout}) and masked joint
     * keys are invisible.
     *
     * @param query (B, shardLength, H, D)
     * @param key (B, shardLength, H, D)
     * @param value (B, shardLength, H, D)
     * @param joint replicated tokens, or null
     */
    AttentionOutput attention(Tensor query, Tensor key, Tensor value, JointTokens joint, SequenceLayout layout);

    /** Bytes this attention moved, summed over the groups it used. */
    CommStats.Counter communicated();
}
