package io.diffuse.core.local;

import io.diffuse.api.dist.CommStats;
import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.api.runtime.DeviceOps;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * Single-rank joint attention: scaled dot-product attention over [video; joint] tokens. Video keys
 * past {@code layout.length()} (padding) and joint keys whose {@code keyMask} is false are masked.
 */
final class LocalAttention implements SequenceParallelAttention {
    @Override
    public int degree() {
        return 1;
    }

    @Override
    public int index() {
        return 0;
    }

    @Override
    public Tensor shard(Tensor full, long dim) {
        // One shard holding everything; degree 1 never pads.
        return full;
    }

    @Override
    public Tensor gather(Tensor shard, long dim, SequenceLayout layout) {
        return shard.size(dim) == layout.length() ? shard : shard.narrow(dim, 0, layout.length());
    }

    @Override
    public AttentionOutput attention(Tensor query, Tensor key, Tensor value, JointTokens joint, SequenceLayout layout) {
        long batch = query.size(0);
        long video = query.size(1);
        long jointLength = joint == null ? 0 : joint.query().size(1);
        Tensor q = joint == null ? query : cat(query, joint.query());
        Tensor k = joint == null ? key : cat(key, joint.key());
        Tensor v = joint == null ? value : cat(value, joint.value());
        Tensor mask = keyMask(batch, video, layout, joint, query);
        // (B, S, H, D) -> (B, H, S, D) for SDPA and back.
        Tensor out = DeviceOps.attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask, null).transpose(1, 2);
        Tensor videoOut = joint == null ? out : out.narrow(1, 0, video);
        Tensor jointOut = joint == null ? null : out.narrow(1, video, jointLength);
        return new AttentionOutput(videoOut, jointOut);
    }

    /** (B, 1, 1, S) boolean key mask on {@code like}'s device, or null when every key is real. */
    private static Tensor keyMask(long batch, long video, SequenceLayout layout, JointTokens joint, Tensor like) {
        boolean videoPadded = layout.length() < video;
        boolean jointMasked = joint != null && joint.keyMask() != null;
        if (!videoPadded && !jointMasked) {
            return null;
        }
        Tensor videoKeys = DeviceOps.arange(video, ScalarType.Long, like.device())
                .lt(new org.bytedeco.pytorch.Scalar(layout.length())).unsqueeze(0).expand(batch, video);
        Tensor keys = videoKeys;
        if (joint != null) {
            Tensor jointKeys = jointMasked ? joint.keyMask().to(like.device(), ScalarType.Bool)
                    : torch.ones(new long[] {batch, joint.key().size(1)}, DeviceOps.options(ScalarType.Bool, like.device()));
            keys = cat(videoKeys, jointKeys);
        }
        return keys.view(batch, 1, 1, -1);
    }

    private static Tensor cat(Tensor a, Tensor b) {
        return torch.cat(new TensorVector(a, b), 1);
    }

    @Override
    public CommStats.Counter communicated() {
        return new CommStats.Counter(0, 0, 0);
    }
}
