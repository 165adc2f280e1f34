package io.diffuse.api.parallel;

import org.bytedeco.pytorch.Tensor;

/**
 * Result of a sequence-parallel attention call.
 *
 * @param video this rank's shard of the video-token output, (B, shardLength, H, D)
 * @param joint the joint-token output, (B, L, H, D), identical on every rank; null if there were no joint tokens
 */
public record AttentionOutput(Tensor video, Tensor joint) {
}
