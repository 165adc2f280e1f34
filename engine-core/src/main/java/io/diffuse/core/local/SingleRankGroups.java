package io.diffuse.core.local;

import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;

/** The process groups of a one-rank run: every group is this rank alone. */
public final class SingleRankGroups implements ProcessGroups {
    private final ProcessGroup world = new SingleRankGroup("world");
    private final ProcessGroup ulysses = new SingleRankGroup("ulysses");
    private final ProcessGroup ring = new SingleRankGroup("ring");
    private final ProcessGroup sequence = new SingleRankGroup("sp");
    private final ProcessGroup cfg = new SingleRankGroup("cfg");
    private final ProcessGroup vae = new SingleRankGroup("vae");

    @Override
    public ParallelPlan plan() {
        return ParallelPlan.single();
    }

    @Override
    public ProcessGroup world() {
        return world;
    }

    @Override
    public ProcessGroup ulysses() {
        return ulysses;
    }

    @Override
    public ProcessGroup ring() {
        return ring;
    }

    @Override
    public ProcessGroup sequence() {
        return sequence;
    }

    @Override
    public ProcessGroup cfg() {
        return cfg;
    }

    @Override
    public ProcessGroup vae() {
        return vae;
    }

    @Override
    public boolean inVaeGroup() {
        return true;
    }
}
