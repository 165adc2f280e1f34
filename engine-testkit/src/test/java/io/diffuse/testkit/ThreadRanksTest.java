package io.diffuse.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.core.distributed.CollectiveCheck;
import io.diffuse.core.distributed.CommVolume;
import io.diffuse.core.distributed.GroupLayout;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Rendezvous, every collective, accounting and failure propagation on ranks run as threads over Gloo. */
class ThreadRanksTest {

    @Test
    void groupsFollowTheLayoutOnEveryRank() {
        ParallelPlan plan = new ParallelPlan(4, 2, 2, 1, 3);
        List<Map<String, List<Integer>>> seen = ThreadRanks.run(plan, g -> Map.of(
                "ulysses", g.ulysses().globalRanks(), "ring", g.ring().globalRanks(), "sp", g.sequence().globalRanks(),
                "cfg", g.cfg().globalRanks(), "vae", g.vae().globalRanks(), "world", g.world().globalRanks(),
                "inVae", List.of(g.inVaeGroup() ? 1 : 0)));
        for (int r = 0; r < 4; r++) {
            Map<String, List<Integer>> s = seen.get(r);
            assertEquals(GroupLayout.groupOf(plan, GroupLayout.Kind.ULYSSES, r).members(), s.get("ulysses"));
            assertEquals(GroupLayout.groupOf(plan, GroupLayout.Kind.RING, r).members(), s.get("ring"));
            assertEquals(List.of(0, 1, 2, 3), s.get("sp"));
            assertEquals(List.of(r), s.get("cfg"));
            assertEquals(r < 3 ? List.of(0, 1, 2) : List.of(3), s.get("vae"));
            assertEquals(List.of(r < 3 ? 1 : 0), s.get("inVae"));
        }
        assertEquals(List.of(0, 1), seen.get(1).get("ulysses"));
        assertEquals(List.of(1, 3), seen.get(1).get("ring"));
    }

    @Test
    void everyCollectiveIsExactOnWorldAndSubGroups() {
        ParallelPlan plan = new ParallelPlan(4, 2, 1, 2, 4);
        List<List<CollectiveCheck.Result>> all = ThreadRanks.run(plan, g -> CollectiveCheck.run(g, 4096, 2, it -> { }));
        for (List<CollectiveCheck.Result> rank : all) {
            // world, ulysses, sp (same members as ulysses but its own group), cfg, vae; ring is a single rank
            assertEquals(6 * 6, rank.size());
            for (CollectiveCheck.Result r : rank) {
                assertEquals(0, r.mismatches(), () -> r.firstMismatch());
                assertEquals(2, r.calls());
            }
        }
    }

    /** Accounting of each collective against {@link CommVolume}, with the numbers written out for P = 4. */
    @Test
    void accountingMatchesTheFormulas() {
        ParallelPlan plan = new ParallelPlan(4, 4, 1, 1, 4);
        List<Map<String, CommStats.Counter>> stats = ThreadRanks.run(plan, groups -> {
            ProcessGroup w = groups.world();
            try (PointerScope scope = new PointerScope()) {
                w.stats().reset();
                Tensor t = torch.ones(1024); // 4096 bytes
                w.allReduce(t, ReduceOp.SUM);
                w.broadcast(t, 2);
                w.allGather(torch.ones(256)); // 1024-byte chunk
                w.allToAll(torch.ones(1024));
                var s = w.sendAsync(torch.ones(100), (w.rank() + 1) % 4);
                var r = w.recvAsync(torch.empty(100), (w.rank() + 3) % 4);
                s.await();
                r.await();
                w.barrier();
                assertEquals(4.0 * 1024, t.sum().item_double(), "all_reduce then broadcast of ones gives 4 everywhere");
            }
            return w.stats().snapshot();
        });
        for (int rank = 0; rank < 4; rank++) {
            Map<String, CommStats.Counter> s = stats.get(rank);
            // all_reduce ring: 2 (P-1)/P B = 2 * 3/4 * 4096 = 6144 each way
            assertEquals(new CommStats.Counter(1, 6144, 6144), s.get("all_reduce"));
            assertEquals(6144, CommVolume.allReduce(4096, 4));
            // broadcast: root sends (P-1) B = 12288, others receive B = 4096
            assertEquals(rank == 2 ? new CommStats.Counter(1, 12288, 0) : new CommStats.Counter(1, 0, 4096), s.get("broadcast"));
            // all_gather ring: (P-1) chunk = 3 * 1024
            assertEquals(new CommStats.Counter(1, 3072, 3072), s.get("all_gather"));
            // all_to_all: (P-1)/P B = 3072
            assertEquals(new CommStats.Counter(1, 3072, 3072), s.get("all_to_all"));
            assertEquals(new CommStats.Counter(1, 400, 0), s.get("send"));
            assertEquals(new CommStats.Counter(1, 0, 400), s.get("recv"));
            assertEquals(new CommStats.Counter(1, 0, 0), s.get("barrier"));
        }
        long sent = stats.stream().mapToLong(m -> m.values().stream().mapToLong(CommStats.Counter::bytesSent).sum()).sum();
        long received = stats.stream().mapToLong(m -> m.values().stream().mapToLong(CommStats.Counter::bytesReceived).sum()).sum();
        assertEquals(sent, received, "over the group, every byte sent is received");
    }

    @Test
    void aFailingRankUnblocksTheOthersAndItsExceptionIsRethrown() {
        ParallelPlan plan = new ParallelPlan(3, 3, 1, 1, 3);
        long t0 = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ThreadRanks.run(plan, Duration.ofSeconds(20), g -> {
            if (g.world().rank() == 1) {
                throw new IllegalStateException("rank 1 gives up");
            }
            try (PointerScope scope = new PointerScope()) {
                g.world().allReduce(torch.ones(4), ReduceOp.SUM); // blocks on rank 1 until its groups are destroyed
            }
            return 0;
        }));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals("rank 1 gives up", e.getMessage());
        assertTrue(seconds < 15, "peers were released long before the 20 s timeout, took " + seconds);
        assertTrue(e.getSuppressed().length >= 1, "the peers' failures are attached");
        assertTrue(e.getSuppressed()[0].getCause() instanceof DiffuseException de && de.getMessage().contains("all_reduce on group world"),
                () -> String.valueOf(e.getSuppressed()[0]));
    }

    @Test
    void groupsAreBuiltOncePerLayoutAndCached() {
        ParallelPlan a = new ParallelPlan(2, 2, 1, 1, 2);
        ParallelPlan b = new ParallelPlan(2, 1, 1, 2, 1);
        List<String> seen = ThreadRanks.runWorlds(2, Duration.ofSeconds(20), world -> {
            ProcessGroups ga = world.groups(a);
            ProcessGroups gb = world.groups(b);
            assertSame(ga, world.groups(a), "same layout, same groups");
            assertNotSame(ga.ulysses(), gb.cfg(), "another layout has groups of its own");
            assertSame(ga.world(), gb.world());
            try (PointerScope scope = new PointerScope()) {
                Tensor t = torch.ones(8);
                gb.cfg().allReduce(t, ReduceOp.SUM);
                ga.ulysses().allReduce(t, ReduceOp.SUM);
                return gb.cfg().name() + "/" + ga.ulysses().name() + "=" + t.sum().item_double()
                        + " vae " + gb.vae().size() + " " + gb.inVaeGroup();
            }
        });
        assertEquals(List.of("cfg/ulysses=32.0 vae 1 true", "cfg/ulysses=32.0 vae 1 false"), seen);
        // a single-rank plan runs on the local groups without any rendezvous
        assertEquals(List.of("world 1"), ThreadRanks.run(ParallelPlan.single(), g -> g.world().name() + " " + g.world().size()));
    }

    static Tensor ones(long n) {
        return torch.full(new long[] {n}, new Scalar(1.0));
    }
}
