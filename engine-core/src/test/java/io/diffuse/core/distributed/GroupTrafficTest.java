package io.diffuse.core.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.diffuse.api.dist.CommStats;
import io.diffuse.api.parallel.ParallelPlan;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Traffic snapshots of a rank's groups: distinct groups counted once, deltas per kind. */
class GroupTrafficTest {
    @Test
    void aGroupServingTwoRolesCountsOnceAndDeltasArePerKind() {
        SingleRankGroup shared = new SingleRankGroup("world", 0);
        SingleRankGroup other = new SingleRankGroup("vae", 0);
        // world, ulysses, ring, sequence and cfg are one object; vae is another.
        PlanGroups groups = new PlanGroups(ParallelPlan.single(), shared, shared, shared, shared, shared, other, true);
        GroupTraffic before = GroupTraffic.of(groups);
        try (PointerScope scope = new PointerScope()) {
            shared.allToAll(torch.zeros(4));
            shared.allToAll(torch.zeros(4));
            other.barrier();
        }
        GroupTraffic moved = GroupTraffic.of(groups).minus(before);
        assertEquals(Map.of("all_to_all", new CommStats.Counter(2, 0, 0), "barrier", new CommStats.Counter(1, 0, 0)),
                moved.byKind(), "one call on a group with five roles is one call");
        assertEquals(new CommStats.Counter(3, 0, 0), moved.total());
        assertEquals(new CommStats.Counter(6, 0, 0), moved.plus(moved).total());
        assertEquals(Map.of(), GroupTraffic.of(groups).minus(GroupTraffic.of(groups)).byKind(), "no calls in between, no kinds");
    }

    @Test
    void bytesSubtractPerKind() {
        GroupTraffic a = new GroupTraffic(Map.of("send", new CommStats.Counter(3, 300, 0), "recv", new CommStats.Counter(3, 0, 300)));
        GroupTraffic b = new GroupTraffic(Map.of("send", new CommStats.Counter(1, 100, 0)));
        GroupTraffic d = a.minus(b);
        assertEquals(new CommStats.Counter(2, 200, 0), d.byKind().get("send"));
        assertEquals(new CommStats.Counter(3, 0, 300), d.byKind().get("recv"));
    }
}
