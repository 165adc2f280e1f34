package io.diffuse.core.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.config.ConfigException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The lane allocator and the scheduling policies, without ranks. */
class LaneSchedulerTest {
    private static final long SECOND = 1_000_000_000L;

    private static LaneScheduler.Waiting job(String id, long queuedSeconds) {
        return new LaneScheduler.Waiting(id, 0, 1, queuedSeconds * SECOND);
    }

    private static LaneScheduler.Waiting wide(String id, int width, long queuedSeconds) {
        return new LaneScheduler.Waiting(id, width, 1, queuedSeconds * SECOND);
    }

    private static LaneScheduler scheduler(SchedulingPolicy policy, int laneSize) {
        return new LaneScheduler(policy, laneSize, Duration.ofSeconds(30));
    }

    @Test
    void allocatorPlacesLanesAtMultiplesOfTheirSizeAndGivesThemBack() {
        LaneAllocator ranks = new LaneAllocator(4);
        Lane one = ranks.take(1).orElseThrow();
        assertEquals(new Lane(0, 1), one);
        assertEquals(new Lane(2, 2), ranks.take(2).orElseThrow(), "a 2-lane starts at an even rank");
        assertEquals(1, ranks.free());
        assertFalse(ranks.fits(2));
        assertEquals(1, ranks.largestFit());
        ranks.release(one);
        assertTrue(ranks.fits(2));
        assertEquals(List.of(2, 3), new Lane(2, 2).ranks());
        assertThrows(IllegalStateException.class, () -> ranks.release(one));
        assertFalse(ranks.take(5).isPresent());
    }

    @Test
    void aLaneSizeThatDoesNotDivideTheWorldTakesAnyFreeOffset() {
        LaneAllocator ranks = new LaneAllocator(5);
        ranks.take(1).orElseThrow();
        assertEquals(new Lane(1, 3), ranks.take(3).orElseThrow());
    }

    @Test
    void latencyRunsOneJobAfterAnotherOnTheWholeWorld() {
        LaneAllocator ranks = new LaneAllocator(4);
        List<LaneScheduler.Start> starts = scheduler(SchedulingPolicy.LATENCY, 1)
                .decide(ranks, List.of(job("a", 0), job("b", 1)), 2 * SECOND);
        assertEquals(List.of(new LaneScheduler.Start("a", new Lane(0, 4))), starts);
    }

    @Test
    void throughputFillsFixedLanesInOrder() {
        LaneAllocator ranks = new LaneAllocator(4);
        List<LaneScheduler.Start> starts = scheduler(SchedulingPolicy.THROUGHPUT, 2)
                .decide(ranks, List.of(job("b", 1), job("a", 0), job("c", 2)), 3 * SECOND);
        assertEquals(List.of(new LaneScheduler.Start("a", new Lane(0, 2)), new LaneScheduler.Start("b", new Lane(2, 2))),
                starts, "oldest first, two lanes of two; c waits");
    }

    @Test
    void autoGivesALoneJobTheWholeWorldAndSplitsForAQueue() {
        SchedulingPolicy auto = SchedulingPolicy.AUTO;
        assertEquals(List.of(new LaneScheduler.Start("a", new Lane(0, 4))),
                scheduler(auto, 1).decide(new LaneAllocator(4), List.of(job("a", 0)), SECOND));
        assertEquals(List.of(new LaneScheduler.Start("a", new Lane(0, 2)), new LaneScheduler.Start("b", new Lane(2, 2))),
                scheduler(auto, 1).decide(new LaneAllocator(4), List.of(job("a", 0), job("b", 1)), 2 * SECOND));
        LaneAllocator busy = new LaneAllocator(4);
        busy.take(2);
        assertEquals(List.of(new LaneScheduler.Start("a", new Lane(2, 2))),
                scheduler(auto, 1).decide(busy, List.of(job("a", 0)), SECOND),
                "a busy world: a lone job takes what is free, never preempting");
    }

    @Test
    void autoGivesAJobTheRanksItsMemoryNeeds() {
        List<LaneScheduler.Start> starts = scheduler(SchedulingPolicy.AUTO, 1).decide(new LaneAllocator(4),
                List.of(new LaneScheduler.Waiting("big", 0, 2, 0), job("b", 1), job("c", 2)), 3 * SECOND);
        assertEquals(List.of(new LaneScheduler.Start("big", new Lane(0, 2)), new LaneScheduler.Start("b", new Lane(2, 1)),
                new LaneScheduler.Start("c", new Lane(3, 1))), starts);
    }

    @Test
    void autoLetsYoungerJobsPassAWideJobOnlyForABoundedWait() {
        LaneAllocator ranks = new LaneAllocator(4);
        ranks.take(1);
        LaneScheduler auto = scheduler(SchedulingPolicy.AUTO, 1);
        List<LaneScheduler.Waiting> queue = List.of(wide("wide", 4, 0), job("small", 1));
        assertEquals(List.of("small"), auto.decide(ranks, queue, 10 * SECOND).stream().map(LaneScheduler.Start::id).toList(),
                "within the bound the small job passes");
        LaneAllocator again = new LaneAllocator(4);
        again.take(1);
        assertEquals(List.of(), auto.decide(again, queue, 31 * SECOND), "past the bound the free ranks wait for it");
        assertEquals(List.of(), scheduler(SchedulingPolicy.THROUGHPUT, 1).decide(again, queue, SECOND),
                "the fixed policies keep order");
    }

    @Test
    void aBadPolicyIsOneLineNamingItsKey() {
        assertEquals(SchedulingPolicy.AUTO, SchedulingPolicy.parse(" Auto "));
        ConfigException e = assertThrows(ConfigException.class, () -> SchedulingPolicy.parse("fast"));
        assertTrue(e.getMessage().contains("diffuse.serve.scheduler.policy"), e.getMessage());
        assertTrue(e.getMessage().contains("latency, throughput or auto"), e.getMessage());
    }
}
