package io.diffuse.usp.attention;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.empty_like;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;
import static org.bytedeco.pytorch.global.torch.stack;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.AsyncWork;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Unified sequence-parallel attention (USP) over {@code u} Ulysses ranks times {@code r} Ring ranks;
 * pure Ulysses is {@code r = 1}, pure Ring is {@code u = 1}.
 *
 * <p>Shard index {@code i = ringRank * u + ulyssesRank} (the sequence group's ring-major order):
 * after the Ulysses all-to-all the ranks of one Ulysses group hold the contiguous block of
 * {@code S = u * shardLength} padded positions {@code [ringRank*S, (ringRank+1)*S)} for their
 * {@code H/u} heads, and the Ring passes those K/V blocks around the ring group.
 *
 * <p>Exactness for any token count: padded video keys are cut off each block before attending
 * (a block may be partly or wholly padding); masked joint keys are hidden by {@code keyMask}.
 * Joint (replicated) keys are attended once, at the first ring step. The joint queries are split
 * into {@code r} slices, one per ring rank: each rank attends its slice over every video block as the
 * blocks pass by and over the joint keys, and the finished slices (in the query dtype) are
 * all-gathered over the ring, then over heads, so the joint output is bit-identical on every rank.
 * That moves {@code 1/r} of the joint output per rank instead of every rank's fp32 (output,
 * log-sum-exp) partial of all joint queries, and no joint query is attended twice.
 */
public final class UspAttention implements SequenceParallelAttention {
    private final ProcessGroup ulysses;
    private final ProcessGroup ring;
    private final ProcessGroup sequence;
    private final int ulyssesDegree;
    private final int ringDegree;
    private final int index;
    private final CommMeter meter;

    /**
     * @param ulysses this rank's Ulysses group (contiguous ranks)
     * @param ring this rank's Ring group (strided ranks)
     * @param sequence this rank's sequence-parallel group, ring-major (rank = ringRank * u + ulyssesRank)
     */
    public UspAttention(ProcessGroup ulysses, ProcessGroup ring, ProcessGroup sequence) {
        this.ulysses = ulysses;
        this.ring = ring;
        this.sequence = sequence;
        this.ulyssesDegree = ulysses.size();
        this.ringDegree = ring.size();
        this.index = ring.rank() * ulyssesDegree + ulysses.rank();
        if (sequence.size() != ulyssesDegree * ringDegree) {
            throw new IllegalArgumentException("sequence group '" + sequence.name() + "' has " + sequence.size()
                    + " ranks but ulysses x ring = " + ulyssesDegree + " x " + ringDegree);
        }
        if (sequence.rank() != index) {
            throw new IllegalArgumentException("sequence group '" + sequence.name() + "' is not ring-major: rank "
                    + sequence.rank() + " but ring rank " + ring.rank() + " * " + ulyssesDegree + " + ulysses rank "
                    + ulysses.rank() + " = " + index);
        }
        this.meter = new CommMeter(ulysses, ring, sequence);
    }

    @Override
    public int degree() {
        return ulyssesDegree * ringDegree;
    }

    @Override
    public int index() {
        return index;
    }

    /** Ulysses degree (heads split over this many ranks). */
    public int ulyssesDegree() {
        return ulyssesDegree;
    }

    /** Ring degree (K/V blocks travel over this many ranks). */
    public int ringDegree() {
        return ringDegree;
    }

    @Override
    public Tensor shard(Tensor full, long dim) {
        SequenceLayout layout = layout(full.size(dim));
        long shardLength = layout.shardLength();
        Tensor shard;
        try (PointerScope scope = new PointerScope()) {
            Tensor padded = full;
            if (layout.padding() > 0) {
                long[] shape = full.sizes().vec().get();
                shape[(int) dim] = layout.padding();
                padded = cat(new TensorVector(full, full.new_zeros(shape)), dim);
            }
            shard = Scopes.keep(padded.narrow(dim, index * shardLength, shardLength).clone());
        }
        return Scopes.adopt(shard);
    }

    @Override
    public Tensor gather(Tensor shard, long dim, SequenceLayout layout) {
        checkLayout(layout);
        if (shard.size(dim) != layout.shardLength()) {
            throw new DiffuseException("gather: shard has " + shard.size(dim) + " entries along dim " + dim
                    + " but the layout of " + layout.length() + " tokens over " + layout.degree() + " ranks has "
                    + layout.shardLength());
        }
        if (degree() == 1) {
            return shard.narrow(dim, 0, layout.length());
        }
        Tensor full;
        try (PointerScope scope = new PointerScope()) {
            Tensor gathered = meter.measure(() -> sequence.allGather(shard.movedim(dim, 0).contiguous()));
            // (P*shardLength, ...) -> drop the padded tail -> back to dim.
            full = Scopes.keep(gathered.narrow(0, 0, layout.length()).movedim(0, dim).contiguous());
        }
        return Scopes.adopt(full);
    }

    @Override
    public AttentionOutput attention(Tensor query, Tensor key, Tensor value, JointTokens joint, SequenceLayout layout) {
        checkLayout(layout);
        if (query.dim() != 4 || key.dim() != 4 || value.dim() != 4) {
            throw new DiffuseException("attention: query, key and value must be (B, S, H, D)");
        }
        if (query.size(1) != layout.shardLength() || key.size(1) != layout.shardLength()
                || value.size(1) != layout.shardLength()) {
            throw new DiffuseException("attention: video shards have " + query.size(1) + " tokens but the layout of "
                    + layout.length() + " tokens over " + layout.degree() + " ranks expects " + layout.shardLength());
        }
        long heads = query.size(2);
        if (heads % ulyssesDegree != 0) {
            throw new DiffuseException("Ulysses degree " + ulyssesDegree + " does not divide the " + heads
                    + " attention heads; valid degrees: " + HeadDegrees.validDegrees((int) heads));
        }
        Tensor videoOut;
        Tensor jointOut;
        try (PointerScope scope = new PointerScope()) {
            AttentionOutput out = meter.measure(() -> attendScoped(query, key, value, joint, layout));
            videoOut = Scopes.keep(out.video());
            jointOut = out.joint() == null ? null : Scopes.keep(out.joint());
        }
        return new AttentionOutput(Scopes.adopt(videoOut), Scopes.adopt(jointOut));
    }

    private AttentionOutput attendScoped(Tensor query, Tensor key, Tensor value, JointTokens joint,
            SequenceLayout layout) {
        Tensor q = query;
        Tensor k = key;
        Tensor v = value;
        if (ulyssesDegree > 1) {
            Tensor[] qkv = HeadAllToAll.toHeads(ulysses, query.contiguous(), key.contiguous(), value.contiguous());
            q = qkv[0];
            k = qkv[1];
            v = qkv[2];
        }
        JointTokens localJoint = joint == null ? null : headSlice(joint, query.size(2));
        AttentionOutput local = ringDegree > 1
                ? ringAttention(q, k, v, localJoint, layout)
                : fullAttention(q, k, v, localJoint, layout);
        Tensor videoOut = local.video();
        Tensor jointOut = local.joint();
        if (ulyssesDegree > 1) {
            videoOut = HeadAllToAll.toSequence(ulysses, videoOut.contiguous());
            if (jointOut != null) {
                jointOut = HeadAllToAll.gatherHeads(ulysses, jointOut);
            }
        }
        return new AttentionOutput(videoOut.contiguous(), jointOut == null ? null : jointOut.contiguous());
    }

    /** This rank's Ulysses head slice of the replicated joint tokens. */
    private JointTokens headSlice(JointTokens joint, long heads) {
        if (ulyssesDegree == 1) {
            return joint;
        }
        long slice = heads / ulyssesDegree;
        long start = ulysses.rank() * slice;
        return new JointTokens(joint.query().narrow(2, start, slice), joint.key().narrow(2, start, slice),
                joint.value().narrow(2, start, slice), joint.keyMask());
    }

    /**
     * Ring degree 1: this rank holds every video token for its heads. One attention over
     * [video; joint] queries and keys, with the padded video tail cut off the keys.
     */
    private AttentionOutput fullAttention(Tensor q, Tensor k, Tensor v, JointTokens joint, SequenceLayout layout) {
        long paddedVideo = q.size(1);
        long valid = layout.length();
        Tensor queries = q;
        Tensor keys = k.narrow(1, 0, valid);
        Tensor values = v.narrow(1, 0, valid);
        Tensor mask = null;
        if (joint != null) {
            queries = cat(new TensorVector(q, joint.query()), 1);
            keys = cat(new TensorVector(keys, joint.key()), 1);
            values = cat(new TensorVector(values, joint.value()), 1);
            if (joint.keyMask() != null) {
                Tensor videoValid = ones(new long[] {q.size(0), valid}, joint.keyMask().options());
                // (B, Sk) -> (B, 1, 1, Sk): broadcast over heads and queries.
                mask = cat(new TensorVector(videoValid, joint.keyMask()), 1).view(q.size(0), 1, 1, -1);
            }
        }
        // SDPA takes (B, H, S, D).
        Tensor out = scaled_dot_product_attention(queries.transpose(1, 2), keys.transpose(1, 2),
                values.transpose(1, 2), mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, false,
                new DoubleOptional(), false).transpose(1, 2); // (B, Sq, H', D)
        Tensor videoOut = out.narrow(1, 0, paddedVideo);
        Tensor jointOut = joint == null ? null : out.narrow(1, paddedVideo, joint.query().size(1));
        return new AttentionOutput(videoOut, jointOut);
    }

    /**
     * Ring degree > 1: K/V blocks of {@code S} positions travel around the ring by send/recv; the next
     * transfer is posted before computing on the current block. Partial results merge in fp32. This
     * rank's slice of the joint queries attends each block too (see {@link #jointSlice}).
     */
    private AttentionOutput ringAttention(Tensor q, Tensor k, Tensor v, JointTokens joint, SequenceLayout layout) {
        int r = ringDegree;
        int me = ring.rank();
        int next = (me + 1) % r;
        int previous = (me - 1 + r) % r;
        long block = q.size(1);
        Tensor jointQueries = joint == null ? null : jointSlice(joint.query());
        // (2, B, S, H', D): K and V travel together, one send/recv pair per step.
        Tensor travelling = stack(new TensorVector(k, v), 0).contiguous();
        Partial video = null;
        Partial jointPart = null;
        for (int step = 0; step < r; step++) {
            int source = (me - step + r) % r;
            Tensor incoming = null;
            AsyncWork sent = null;
            AsyncWork received = null;
            if (step < r - 1) {
                incoming = empty_like(travelling);
                sent = ring.sendAsync(travelling, next);
                received = ring.recvAsync(incoming, previous);
            }
            long valid = Math.max(0, Math.min(block, layout.length() - source * block));
            if (valid > 0) {
                Tensor kb = travelling.select(0, 0).narrow(1, 0, valid);
                Tensor vb = travelling.select(0, 1).narrow(1, 0, valid);
                Partial p = BlockAttention.attend(q, kb, vb, null);
                video = video == null ? p : video.merge(p);
                if (jointQueries != null) {
                    Partial j = BlockAttention.attend(jointQueries, kb, vb, null);
                    jointPart = jointPart == null ? j : jointPart.merge(j);
                }
            }
            if (step == 0 && joint != null) {
                // Replicated joint keys: attended exactly once, while the first transfer is in flight.
                Partial p = BlockAttention.attend(q, joint.key(), joint.value(), joint.keyMask());
                video = video == null ? p : video.merge(p);
                Partial j = BlockAttention.attend(jointQueries, joint.key(), joint.value(), joint.keyMask());
                jointPart = jointPart == null ? j : jointPart.merge(j);
            }
            if (step < r - 1) {
                sent.await();
                received.await();
                travelling = incoming;
            }
        }
        if (video == null) {
            video = BlockAttention.nothing(q);
        }
        Tensor videoOut = video.out().transpose(1, 2).to(q.scalar_type()); // (B, S, H', D)
        Tensor jointOut = joint == null ? null : jointOutput(joint, jointPart);
        return new AttentionOutput(videoOut, jointOut);
    }

    /** Joint queries per ring rank: ceil(L / r), the last slices padded. */
    private long jointSliceLength(long jointLength) {
        return Math.max(1, (jointLength + ringDegree - 1) / ringDegree);
    }

    /**
     * This ring rank's slice of the joint queries (B, L, H', D) -> (B, ceil(L/r), H', D): queries
     * {@code [rank * slice, (rank + 1) * slice)}, zero queries past L (their outputs are dropped).
     */
    private Tensor jointSlice(Tensor jointQuery) {
        long length = jointQuery.size(1);
        long slice = jointSliceLength(length);
        long padded = slice * ringDegree;
        Tensor all = jointQuery;
        if (padded > length) {
            long[] shape = jointQuery.sizes().vec().get();
            shape[1] = padded - length;
            all = cat(new TensorVector(jointQuery, jointQuery.new_zeros(shape)), 1);
        }
        return all.narrow(1, ring.rank() * slice, slice);
    }

    /**
     * The joint output from every ring rank's finished slice: one all-gather of (B, H', L/r, D) in the
     * query dtype over the ring, in ring-rank order, the padding dropped: (B, L, H', D).
     */
    private Tensor jointOutput(JointTokens joint, Partial slicePart) {
        long length = joint.query().size(1);
        // (B, H', L/r, D) -> (1, B, L/r, H', D) in the query dtype, as the single-rank output is rounded.
        Tensor mine = slicePart.out().transpose(1, 2).to(joint.query().scalar_type()).unsqueeze(0).contiguous();
        Tensor all = ring.allGather(mine); // (R, B, L/r, H', D)
        // (R, B, L/r, H', D) -> (B, R * L/r, H', D), ring rank r's slice at [r * L/r, (r + 1) * L/r).
        Tensor joined = all.movedim(0, 1).flatten(1, 2);
        return joined.narrow(1, 0, length);
    }

    @Override
    public CommStats.Counter communicated() {
        return meter.total();
    }

    private void checkLayout(SequenceLayout layout) {
        if (layout.degree() != degree()) {
            throw new DiffuseException("sequence layout is for " + layout.degree() + " ranks but this attention runs on "
                    + degree() + " (ulysses " + ulyssesDegree + " x ring " + ringDegree + ")");
        }
    }

    @Override
    public String toString() {
        return "UspAttention[ulysses=" + ulyssesDegree + ", ring=" + ringDegree + ", index=" + index + "]";
    }
}
