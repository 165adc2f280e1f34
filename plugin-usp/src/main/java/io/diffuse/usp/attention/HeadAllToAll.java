package io.diffuse.usp.attention;

import static org.bytedeco.pytorch.global.torch.stack;

import io.diffuse.api.dist.ProcessGroup;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The Ulysses all-to-alls over a group of P ranks: from sequence sharding (every head, a contiguous
 * shard of the tokens) to head sharding (every token, a contiguous slice of the heads) and back.
 * Rank i receives heads {@code [i*H/P, (i+1)*H/P)}; the gathered sequence is in group-rank order.
 */
final class HeadAllToAll {
    private HeadAllToAll() {
    }

    /**
     * Q, K and V in one all-to-all: each (B, s, H, D) becomes (B, P*s, H/P, D).
     *
     * @return {query, key, value} for this rank's heads over the group's whole sequence
     */
    static Tensor[] toHeads(ProcessGroup group, Tensor query, Tensor key, Tensor value) {
        int p = group.size();
        long b = query.size(0);
        long s = query.size(1);
        long h = query.size(2);
        long d = query.size(3);
        // (3, B, s, H, D) -> (3, B, s, P, H/P, D) -> (P, 3, B, s, H/P, D): dim 0 is the destination rank.
        Tensor send = stack(new TensorVector(query, key, value), 0)
                .view(3, b, s, p, h / p, d)
                .permute(3, 0, 1, 2, 4, 5)
                .contiguous();
        Tensor received = group.allToAll(send); // (P, 3, B, s, H/P, D): dim 0 is the source rank = sequence chunk
        Tensor qkv = received.permute(1, 2, 0, 3, 4, 5).reshape(3, b, p * s, h / p, d);
        return new Tensor[] {qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)};
    }

    /** The reverse all-to-all: (B, P*s, H/P, D) becomes (B, s, H, D). */
    static Tensor toSequence(ProcessGroup group, Tensor output) {
        int p = group.size();
        long b = output.size(0);
        long s = output.size(1) / p;
        long hp = output.size(2);
        long d = output.size(3);
        // (B, P*s, H/P, D) -> (B, P, s, H/P, D) -> (P, B, s, H/P, D): dim 0 is the destination rank.
        Tensor send = output.reshape(b, p, s, hp, d).permute(1, 0, 2, 3, 4).contiguous();
        Tensor received = group.allToAll(send); // (P, B, s, H/P, D): dim 0 is the source rank = head slice
        return received.permute(1, 2, 0, 3, 4).reshape(b, s, p * hp, d);
    }

    /** All-gathers a head slice (B, L, H/P, D) into (B, L, H, D), identical on every rank. */
    static Tensor gatherHeads(ProcessGroup group, Tensor slice) {
        int p = group.size();
        long b = slice.size(0);
        long l = slice.size(1);
        long hp = slice.size(2);
        long d = slice.size(3);
        Tensor gathered = group.allGather(slice.unsqueeze(0).contiguous()); // (P, B, L, H/P, D)
        return gathered.permute(1, 2, 0, 3, 4).reshape(b, l, p * hp, d);
    }
}
