package io.diffuse.core.distributed;

import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import java.util.List;

/** The groups of one layout for one rank, as built by {@link C10dWorld} or {@link LocalGroups}. */
record PlanGroups(ParallelPlan plan, ProcessGroup world, ProcessGroup ulysses, ProcessGroup ring, ProcessGroup sequence,
        ProcessGroup cfg, ProcessGroup vae, boolean inVaeGroup) implements ProcessGroups {

    /** The sub-groups (not the world), in creation order. */
    List<ProcessGroup> subGroups() {
        return List.of(ulysses, ring, sequence, cfg, vae);
    }
}
