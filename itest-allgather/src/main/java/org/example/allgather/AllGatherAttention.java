package org.example.allgather;

import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * All-gather sequence-parallel attention over one process group: K and V shards of every rank are
 * gathered, so each rank attends its own query shard (plus the joint queries) to the full sequence.
 */
final class AllGatherAttention implements SequenceParallelAttention {
    private final ProcessGroup group;
    private CommStats.Counter moved = new CommStats.Counter(0, 0, 0);

    AllGatherAttention(ProcessGroup group) {
        this.group = group;
    }

    @Override
    public int degree() {
        return group.size();
    }

    @Override
    public int index() {
        return group.rank();
    }

    @Override
    public Tensor shard(Tensor full, long dim) {
        SequenceLayout layout = layout(full.size(dim));
        try (PointerScope scope = new PointerScope()) {
            Tensor padded = padAlong(full, dim, layout.padding());
            Tensor shard = padded.narrow(dim, index() * layout.shardLength(), layout.shardLength()).contiguous();
            shard.retainReference();
            return shard;
        }
    }

    @Override
    public Tensor gather(Tensor shard, long dim, SequenceLayout layout) {
        try (PointerScope scope = new PointerScope()) {
            // all-gather concatenates along dim 0: move the sequence dim there and back.
            Tensor gathered = allGather(shard.movedim(dim, 0).contiguous()).movedim(0, dim);
            Tensor full = gathered.narrow(dim, 0, layout.length()).contiguous();
            full.retainReference();
            return full;
        }
    }

    @Override
    public AttentionOutput attention(Tensor query, Tensor key, Tensor value, JointTokens joint, SequenceLayout layout) {
        try (PointerScope scope = new PointerScope()) {
            long batch = query.size(0);
            long shardLength = query.size(1);
            // (B, s, H, D) -> (s, B, H, D), gathered to (P*s, B, H, D), back to (B, P*s, H, D).
            Tensor keys = allGather(key.transpose(0, 1).contiguous()).transpose(0, 1);
            Tensor values = allGather(value.transpose(0, 1).contiguous()).transpose(0, 1);
            long padded = keys.size(1);
            // Video keys past the true length are padding: (P*s,) -> (B, P*s).
            Tensor keyMask = torch.arange(new Scalar(padded), new TensorOptions(torch.ScalarType.Long)
                    .device(new DeviceOptional(query.device()))).lt(new Scalar(layout.length()))
                    .unsqueeze(0).expand(batch, padded);
            Tensor queries = query;
            if (joint != null) {
                long jointLength = joint.key().size(1);
                Tensor jointMask = joint.keyMask() != null ? joint.keyMask().to(query.device(), torch.ScalarType.Bool)
                        : torch.ones(new long[] {batch, jointLength}, new TensorOptions(torch.ScalarType.Bool)
                                .device(new DeviceOptional(query.device())));
                queries = cat(query, joint.query());
                keys = cat(keys, joint.key());
                values = cat(values, joint.value());
                keyMask = torch.cat(new TensorArrayRef(new TensorVector(keyMask, jointMask)), 1);
            }
            // SDPA wants (B, H, S, D); the boolean mask (B, 1, 1, Lk) is true where a key may be seen.
            Tensor mask = keyMask.view(batch, 1, 1, keyMask.size(1));
            Tensor out = torch.scaled_dot_product_attention(queries.transpose(1, 2), keys.transpose(1, 2),
                    values.transpose(1, 2), new TensorOptional(mask), 0.0, false, new DoubleOptional(), false)
                    .transpose(1, 2);
            Tensor videoOut = out.narrow(1, 0, shardLength).contiguous();
            Tensor jointOut = joint == null ? null : out.narrow(1, shardLength, out.size(1) - shardLength).contiguous();
            videoOut.retainReference();
            if (jointOut != null) {
                jointOut.retainReference();
            }
            return new AttentionOutput(videoOut, jointOut);
        }
    }

    @Override
    public CommStats.Counter communicated() {
        return moved;
    }

    /** All-gathers over the group, adding what the group counted for this call to {@link #moved}. */
    private Tensor allGather(Tensor tensor) {
        CommStats.Counter before = group.stats().total();
        Tensor gathered = group.allGather(tensor);
        CommStats.Counter after = group.stats().total();
        moved = moved.plus(new CommStats.Counter(after.calls() - before.calls(),
                after.bytesSent() - before.bytesSent(), after.bytesReceived() - before.bytesReceived()));
        return gathered;
    }

    private static Tensor cat(Tensor a, Tensor b) {
        return torch.cat(new TensorArrayRef(new TensorVector(a, b)), 1);
    }

    /** Zero-pads {@code t} at the end of {@code dim} by {@code padding} entries. */
    private static Tensor padAlong(Tensor t, long dim, long padding) {
        if (padding == 0) {
            return t;
        }
        long[] shape = t.sizes().vec().get();
        shape[(int) dim] = padding;
        return torch.cat(new TensorArrayRef(new TensorVector(t, t.new_zeros(shape))), dim);
    }
}
