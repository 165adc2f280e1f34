package io.diffuse.core.serve;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The scheduling decision: which waiting jobs start now, each on which lane, under a
 * {@link SchedulingPolicy}. Running jobs are never preempted; the decision only takes free ranks.
 * <ul>
 * <li>{@code latency}: the oldest job gets the whole world (or its own width), one job after another;</li>
 * <li>{@code throughput}: the oldest jobs get lanes of {@code lane-size} ranks (or their own width), in order;</li>
 * <li>{@code auto}: a lone job on an idle world gets the whole world; with several waiting, the free
 * ranks are shared among them (a divisor of the world each, at least what the job's memory needs).
 * A job that does not fit yet lets younger jobs pass for at most {@code wideWait}; after that nothing
 * new starts until its lane is free (bounded wait, oldest first).</li>
 * </ul>
 */
final class LaneScheduler {

    /**
     * A job in the queue.
     *
     * @param width the lane width its own {@code parallel} object asks for; 0 = the policy chooses
     * @param minWidth the fewest ranks its size fits in memory on (1 when any lane fits)
     * @param queuedNanos when it was queued ({@link System#nanoTime()} clock)
     */
    record Waiting(String id, int width, int minWidth, long queuedNanos) {
    }

    /** A job to start now on {@code lane} (already taken from the allocator). */
    record Start(String id, Lane lane) {
    }

    private final SchedulingPolicy policy;
    private final int laneSize;
    private final Duration wideWait;

    LaneScheduler(SchedulingPolicy policy, int laneSize, Duration wideWait) {
        if (laneSize < 1) {
            throw new IllegalArgumentException("lane size must be 1 or more, not " + laneSize);
        }
        this.policy = policy;
        this.laneSize = laneSize;
        this.wideWait = wideWait;
    }

    SchedulingPolicy policy() {
        return policy;
    }

    /**
     * Takes lanes from {@code ranks} for the jobs of {@code queue} (oldest first) that start now.
     *
     * @param nowNanos the present on the {@link Waiting#queuedNanos} clock
     */
    List<Start> decide(LaneAllocator ranks, List<Waiting> queue, long nowNanos) {
        List<Start> starts = new ArrayList<>();
        List<Waiting> waiting = new ArrayList<>(queue);
        waiting.sort((a, b) -> Long.compare(a.queuedNanos(), b.queuedNanos()));
        boolean idleAtStart = ranks.idle();
        for (int i = 0; i < waiting.size() && ranks.free() > 0; i++) {
            Waiting job = waiting.get(i);
            int left = waiting.size() - i;
            int width = width(job, ranks, idleAtStart && starts.isEmpty() && left == 1, left);
            Optional<Lane> lane = ranks.take(width);
            if (lane.isPresent()) {
                starts.add(new Start(job.id(), lane.get()));
                continue;
            }
            // The oldest job that does not fit: the fixed policies keep order; auto lets younger jobs
            // pass until this one has waited wideWait, then holds the free ranks for it.
            if (policy != SchedulingPolicy.AUTO || nowNanos - job.queuedNanos() >= wideWait.toNanos()) {
                break;
            }
        }
        return starts;
    }

    private int width(Waiting job, LaneAllocator ranks, boolean alone, int waiting) {
        int world = ranks.worldSize();
        if (job.width() > 0) {
            return job.width();
        }
        int least = Math.max(1, job.minWidth());
        return switch (policy) {
            case LATENCY -> world;
            case THROUGHPUT -> Math.max(Math.min(laneSize, world), least);
            case AUTO -> alone ? world : Math.max(least, divisorAtMost(world, Math.min(ranks.largestFit(),
                    Math.max(1, ranks.free() / waiting))));
        };
    }

    /** The largest divisor of {@code world} that is at most {@code n} (at least 1). */
    private static int divisorAtMost(int world, int n) {
        for (int d = Math.max(1, n); d > 1; d--) {
            if (world % d == 0) {
                return d;
            }
        }
        return 1;
    }
}
