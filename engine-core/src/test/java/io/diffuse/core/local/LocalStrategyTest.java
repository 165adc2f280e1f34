package io.diffuse.core.local;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.core.distributed.LocalGroups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class LocalStrategyTest {
    private static float diff(Tensor a, Tensor b) {
        return a.sub(b).abs().max().item_float();
    }

    /** Reference: plain SDPA over the given (B, S, H, D) tokens, no mask. */
    private static Tensor sdpa(Tensor q, Tensor k, Tensor v) {
        return torch.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2);
    }

    @Test
    void isRegisteredAndRefusesSequenceParallelPlans() throws java.io.IOException {
        // The service file lists the class (ServiceLoader on the module path needs a `uses` the bnd-made
        // module-info does not declare yet, so the file is checked directly).
        try (java.io.InputStream in = LocalStrategy.class.getClassLoader()
                .getResourceAsStream("META-INF/services/io.diffuse.api.parallel.ParallelStrategy")) {
            assertTrue(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).contains(LocalStrategy.class.getName()));
        }
        LocalStrategy s = new LocalStrategy();
        s.validate(ParallelPlan.single(), 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> s.validate(new ParallelPlan(2, 2, 1, 1, 1), 4));
        assertTrue(e.getMessage().contains("ulysses=2"), e.getMessage());
    }

    @Test
    void paddedVideoKeysAndMaskedJointKeysAreInvisible() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            SequenceParallelAttention attn = new LocalStrategy().create(LocalGroups.create());
            assertEquals(1, attn.degree());
            long b = 1, n = 5, l = 4, h = 2, d = 8;
            Tensor q = torch.randn(b, n, h, d), k = torch.randn(b, n, h, d), v = torch.randn(b, n, h, d);
            Tensor jq = torch.randn(b, l, h, d), jk = torch.randn(b, l, h, d), jv = torch.randn(b, l, h, d);
            Tensor keep = torch.ones(new long[] {b, l}, new TensorOptions(ScalarType.Bool));
            keep.narrow(1, 1, 2).fill_(new org.bytedeco.pytorch.Scalar(0));
            // Masking joint tokens 1 and 2 must equal dropping them.
            AttentionOutput masked = attn.attention(q, k, v, new JointTokens(jq, jk, jv, keep), attn.layout(n));
            Tensor idx = torch.tensor(new long[] {0, 3});
            Tensor refQ = torch.cat(new TensorVector(q, jq.index_select(1, idx)), 1);
            Tensor refK = torch.cat(new TensorVector(k, jk.index_select(1, idx)), 1);
            Tensor refV = torch.cat(new TensorVector(v, jv.index_select(1, idx)), 1);
            Tensor ref = sdpa(refQ, refK, refV);
            // Same arithmetic up to summation order: 1e-6 in fp32.
            assertTrue(diff(masked.video(), ref.narrow(1, 0, n)) < 1e-6);
            assertTrue(diff(masked.joint().index_select(1, idx), ref.narrow(1, n, 2)) < 1e-6);
            // Video tokens past layout.length() are padding: invisible as keys.
            Tensor pad = torch.zeros(b, 3, h, d);
            AttentionOutput padded = attn.attention(torch.cat(new TensorVector(q, pad), 1), torch.cat(new TensorVector(k, pad), 1),
                    torch.cat(new TensorVector(v, pad), 1), null, new SequenceLayout(n, 1));
            assertTrue(diff(padded.video().narrow(1, 0, n), sdpa(q, k, v)) < 1e-6);
            assertEquals(null, padded.joint());
            assertEquals(n, attn.gather(padded.video(), 1, new SequenceLayout(n, 1)).size(1));
            assertEquals(0, attn.communicated().bytesSent());
        }
    }

    @Test
    void singleRankCollectivesAreIdentities() {
        try (PointerScope scope = new PointerScope()) {
            ProcessGroups groups = LocalGroups.create();
            Tensor t = torch.randn(3, 2);
            Tensor before = t.clone();
            groups.world().allReduce(t, ReduceOp.SUM);
            groups.world().broadcast(t, 0);
            assertEquals(0f, diff(t, before));
            assertEquals(0f, diff(groups.ulysses().allGather(t), before));
            assertEquals(0f, diff(groups.ulysses().allToAll(t), before));
            assertEquals(2, groups.world().stats().total().calls());
            assertEquals(0, groups.world().stats().total().bytesSent());
            // A send to oneself is delivered to the next receive.
            groups.ring().sendAsync(before, 0).await();
            Tensor received = torch.zeros(3, 2);
            groups.ring().recvAsync(received, 0).await();
            assertEquals(0f, diff(received, before));
        }
    }
}
