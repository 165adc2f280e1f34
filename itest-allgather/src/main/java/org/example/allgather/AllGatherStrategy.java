package org.example.allgather;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceParallelAttention;
import org.osgi.service.component.annotations.Component;

/**
 * "allgather": the simplest correct sequence-parallel attention. Every rank of the sequence group
 * all-gathers the keys and values of the whole sequence and attends its own queries to them. It
 * moves {@code (P-1)/P} of the full K/V to every rank per call (more than Ulysses for long sequences)
 * but needs nothing of the head count; it stands here as the example of a third-party strategy
 * written against engine-api alone.
 */
@Component(property = ParallelStrategy.NAME_PROPERTY + "=" + AllGatherStrategy.NAME)
public final class AllGatherStrategy implements ParallelStrategy {
    /** The configuration name. */
    public static final String NAME = "allgather";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "sequence parallel: all-gathers K/V over the sequence group (example third-party bundle)";
    }

    @Override
    public void validate(ParallelPlan plan, int numHeads) {
        if (numHeads < 1) {
            throw new IllegalArgumentException("allgather needs at least one attention head, got " + numHeads);
        }
        // Any ulysses x ring split works: the strategy uses the whole sequence group as one all-gather group.
    }

    @Override
    public SequenceParallelAttention create(ProcessGroups groups) {
        return new AllGatherAttention(groups.sequence());
    }
}
