package io.diffuse.core.local;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceParallelAttention;
import org.osgi.service.component.annotations.Component;

/** The "local" strategy: no sequence parallelism; every rank attends over the whole sequence itself. */
@Component(service = ParallelStrategy.class, property = ParallelStrategy.NAME_PROPERTY + "=local")
public final class LocalStrategy implements ParallelStrategy {
    /** The name configuration uses. */
    public static final String NAME = "local";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "single-rank attention over the whole sequence (no sequence parallelism)";
    }

    @Override
    public void validate(ParallelPlan plan, int numHeads) {
        if (plan.sequence() != 1) {
            throw new IllegalArgumentException("strategy 'local' does not split the sequence, but the plan asks for ulysses="
                    + plan.ulysses() + " x ring=" + plan.ring() + "; use ulysses=1 ring=1 or a sequence-parallel strategy"
                    + " (ulysses, ring, usp)");
        }
        if (numHeads < 1) {
            throw new IllegalArgumentException("number of attention heads must be positive: " + numHeads);
        }
    }

    @Override
    public SequenceParallelAttention create(ProcessGroups groups) {
        return new LocalAttention();
    }
}
