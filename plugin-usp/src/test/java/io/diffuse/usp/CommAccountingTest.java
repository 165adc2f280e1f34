package io.diffuse.usp;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.dist.CommStats;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.testkit.ThreadRanks;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bytes each strategy reports per attention call against the analytic volumes (fp32, b = 4):
 * Ulysses 4*(N/P)*h*b*(P-1)/P (q, k, v and output all-to-alls), Ring 2*(N/P)*h*b*(P-1) (K/V sent
 * by send/recv, never all-gathered), hybrid the sum of its Ulysses part and its Ring part over H/u heads.
 * Joint tokens add one small all-gather per group (heads under Ulysses; under Ring each rank's finished
 * slice of ceil(L/r) joint queries, in the query dtype).
 */
class CommAccountingTest {
    private static final int BATCH = 1;
    private static final int HEADS = 12;
    private static final int HEAD_DIM = 8;
    private static final int JOINT = 3;
    private static final long BYTES = 4;

    @ParameterizedTest(name = "{0}: ulysses {1} x ring {2}")
    @CsvSource({"ulysses,2,1", "ulysses,4,1", "ring,1,2", "ring,1,3", "usp,2,2"})
    void bytesMatchTheAnalyticVolume(String strategyName, int u, int r) {
        ParallelStrategy strategy = Strategies.byName(strategyName);
        ParallelPlan plan = new ParallelPlan(u * r, u, r, 1, 1);
        int p = plan.sequence();
        long tokens = 8L * p;
        long h = (long) HEADS * HEAD_DIM;
        long shard = tokens / p;
        // The paper volumes, per attention layer per rank.
        long ulyssesVolume = 4 * BATCH * shard * h * BYTES * (u - 1) / u;
        long ringVolume = 2 * BATCH * shard * h * BYTES * (r - 1);
        // Joint extras: head all-gather of the joint output over the Ulysses group; over the Ring group
        // the all-gather of each rank's output slice of ceil(L/r) joint queries (L = 3: 2 on 2 ranks, 1 on 3).
        long jointUlysses = (long) BATCH * JOINT * (HEADS / u) * HEAD_DIM * BYTES * (u - 1);
        long jointSlice = (JOINT + r - 1) / r;
        long jointRing = (long) BATCH * (HEADS / u) * jointSlice * HEAD_DIM * BYTES * (r - 1);

        List<long[]> sentByRank = ThreadRanks.run(plan, groups -> {
            SequenceParallelAttention attention = strategy.create(groups);
            try (PointerScope scope = new PointerScope()) {
                manual_seed(1);
                Tensor q = randn(BATCH, tokens, HEADS, HEAD_DIM);
                JointTokens joint = new JointTokens(randn(BATCH, JOINT, HEADS, HEAD_DIM),
                        randn(BATCH, JOINT, HEADS, HEAD_DIM), randn(BATCH, JOINT, HEADS, HEAD_DIM));
                SequenceLayout layout = attention.layout(tokens);
                Tensor qs = attention.shard(q, 1);
                CommStats.Counter before = attention.communicated();
                Map<String, CommStats.Counter> ringBefore = groups.ring().stats().snapshot();
                attention.attention(qs, qs, qs, null, layout);
                CommStats.Counter videoOnly = attention.communicated();
                Map<String, CommStats.Counter> ringAfter = groups.ring().stats().snapshot();
                attention.attention(qs, qs, qs, joint, layout);
                CommStats.Counter withJoint = attention.communicated();
                long sends = calls(ringAfter, "send") - calls(ringBefore, "send");
                long ringGathers = calls(ringAfter, "all_gather") - calls(ringBefore, "all_gather");
                return new long[] {videoOnly.bytesSent() - before.bytesSent(),
                    withJoint.bytesSent() - videoOnly.bytesSent(), sends, ringGathers};
            }
        });
        for (int rank = 0; rank < sentByRank.size(); rank++) {
            long[] m = sentByRank.get(rank);
            long analytic = ulyssesVolume + ringVolume;
            assertTrue(Math.abs(m[0] - analytic) <= 0.05 * analytic,
                    "rank " + rank + ": " + m[0] + " bytes vs analytic " + analytic);
            // The accounting is exact, not just within 5%.
            assertEquals(analytic, m[0], "rank " + rank + " bytes without joint tokens");
            assertEquals(analytic + jointUlysses + jointRing, m[1], "rank " + rank + " bytes with joint tokens");
            assertEquals(r - 1, m[2], "rank " + rank + ": one K/V send per ring step");
            assertEquals(0, m[3], "rank " + rank + ": ring attention must not all-gather K/V");
        }
    }

    private static long calls(Map<String, CommStats.Counter> snapshot, String kind) {
        CommStats.Counter c = snapshot.get(kind);
        return c == null ? 0 : c.calls();
    }
}
