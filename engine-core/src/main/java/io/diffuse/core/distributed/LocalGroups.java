package io.diffuse.core.distributed;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;

/**
 * The process groups of a one-rank run: every group is this rank alone, no rendezvous and no
 * native communication. The canonical single-rank {@link ProcessGroups} of the engine.
 */
public final class LocalGroups {
    private LocalGroups() {
    }

    /** Groups for {@link ParallelPlan#single()}. */
    public static ProcessGroups create() {
        return new PlanGroups(ParallelPlan.single(),
                new SingleRankGroup("world", 0),
                new SingleRankGroup("ulysses", 0),
                new SingleRankGroup("ring", 0),
                new SingleRankGroup("sp", 0),
                new SingleRankGroup("cfg", 0),
                new SingleRankGroup("vae", 0),
                true);
    }
}
