package io.diffuse.core.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.core.distributed.GroupLayout.Group;
import io.diffuse.core.distributed.GroupLayout.Kind;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The layout arithmetic, without any communication. */
class GroupLayoutTest {
    private static List<List<Integer>> members(ParallelPlan plan, Kind kind) {
        return GroupLayout.groups(plan, kind).stream().map(Group::members).toList();
    }

    @Test
    void eightRanksUlyssesFourRingTwo() {
        ParallelPlan plan = new ParallelPlan(8, 4, 2, 1, 8);
        assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5, 6, 7)), members(plan, Kind.ULYSSES));
        assertEquals(List.of(List.of(0, 4), List.of(1, 5), List.of(2, 6), List.of(3, 7)), members(plan, Kind.RING));
        assertEquals(List.of(List.of(0, 1, 2, 3, 4, 5, 6, 7)), members(plan, Kind.SEQUENCE));
        assertEquals(List.of(0), members(plan, Kind.CFG).get(0));
        assertEquals(8, members(plan, Kind.CFG).size());
        assertEquals(List.of("ring-0", "ring-1", "ring-2", "ring-3"),
                GroupLayout.groups(plan, Kind.RING).stream().map(Group::name).toList());
        assertEquals("sp", GroupLayout.groups(plan, Kind.SEQUENCE).get(0).name());
        Group ring = GroupLayout.groupOf(plan, Kind.RING, 6);
        assertEquals(List.of(2, 6), ring.members());
        assertEquals(1, ring.rankOf(6));
        assertEquals(-1, ring.rankOf(5));
    }

    @Test
    void cfgPairsTheSequenceParallelBlocks() {
        ParallelPlan plan = new ParallelPlan(8, 2, 2, 2, 8);
        assertEquals(List.of(List.of(0, 1), List.of(2, 3), List.of(4, 5), List.of(6, 7)), members(plan, Kind.ULYSSES));
        assertEquals(List.of(List.of(0, 2), List.of(1, 3), List.of(4, 6), List.of(5, 7)), members(plan, Kind.RING));
        assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5, 6, 7)), members(plan, Kind.SEQUENCE));
        assertEquals(List.of(List.of(0, 4), List.of(1, 5), List.of(2, 6), List.of(3, 7)), members(plan, Kind.CFG));
    }

    @Test
    void vaeGroupIsTheFirstRanksAndTheOthersAreAlone() {
        ParallelPlan plan = new ParallelPlan(4, 4, 1, 1, 3);
        List<Group> vae = GroupLayout.groups(plan, Kind.VAE);
        assertEquals(List.of(0, 1, 2), vae.get(0).members());
        assertEquals("vae", vae.get(0).name());
        assertEquals(List.of(3), GroupLayout.groupOf(plan, Kind.VAE, 3).members());
        assertEquals("vae-solo-3", GroupLayout.groupOf(plan, Kind.VAE, 3).name());
    }

    @Test
    void everyRankIsInExactlyOneGroupOfEachKind() {
        for (ParallelPlan plan : List.of(new ParallelPlan(8, 4, 2, 1, 5), new ParallelPlan(12, 3, 2, 2, 12),
                new ParallelPlan(6, 1, 3, 2, 1), ParallelPlan.single())) {
            for (Kind kind : Kind.values()) {
                List<Integer> all = new ArrayList<>();
                GroupLayout.groups(plan, kind).forEach(g -> all.addAll(g.members()));
                all.sort(null);
                assertEquals(java.util.stream.IntStream.range(0, plan.world()).boxed().toList(), all, plan + " " + kind);
            }
            assertEquals(plan.ulysses(), GroupLayout.groupOf(plan, Kind.ULYSSES, plan.world() - 1).size());
            assertEquals(plan.ring(), GroupLayout.groupOf(plan, Kind.RING, plan.world() - 1).size());
            assertEquals(plan.cfg(), GroupLayout.groupOf(plan, Kind.CFG, 0).size());
        }
        assertThrows(IllegalArgumentException.class, () -> GroupLayout.groupOf(ParallelPlan.single(), Kind.WORLD, 1));
        assertEquals("w8u4r2c1v5", GroupLayout.key(new ParallelPlan(8, 4, 2, 1, 5)));
    }

    @Test
    void aPlanOnALaneIsItsLayoutShiftedToTheLanesRanks() {
        ParallelPlan plan = new ParallelPlan(2, 2, 1, 1, 2);
        assertEquals(List.of(2, 3), GroupLayout.groupOf(plan, Kind.ULYSSES, 3, 2).members());
        assertEquals(List.of(2, 3), GroupLayout.groupOf(plan, Kind.VAE, 2, 2).members());
        assertEquals(List.of(0, 1), GroupLayout.groupOf(plan, Kind.ULYSSES, 1, 0).members());
        assertEquals("w2u2r1c1v2", GroupLayout.key(plan, 0), "the whole-world key is unchanged");
        assertEquals("l2w2u2r1c1v2", GroupLayout.key(plan, 2));
        assertThrows(IllegalArgumentException.class, () -> GroupLayout.groupOf(plan, Kind.ULYSSES, 1, 2),
                "rank 1 is not in the lane of ranks 2..3");
    }
}
