package io.diffuse.usp;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import org.osgi.service.component.annotations.Component;

/** "ring": K/V blocks travel around the ring; any number of ranks. */
@Component(service = ParallelStrategy.class, property = ParallelStrategy.NAME_PROPERTY + "=" + RingStrategy.NAME)
public final class RingStrategy extends SequenceParallelStrategy {
    /** Configuration name. */
    public static final String NAME = "ring";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Ring sequence parallelism: K/V blocks passed around the ring, log-sum-exp merge in fp32";
    }

    @Override
    void checkDegrees(ParallelPlan plan) {
        if (plan.ulysses() != 1) {
            throw new IllegalArgumentException("strategy 'ring' runs with ulysses degree 1, got ulysses="
                    + plan.ulysses() + "; use strategy 'usp' for ulysses x ring");
        }
    }
}
