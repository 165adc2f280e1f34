package io.diffuse.usp;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import org.osgi.service.component.annotations.Component;

/** "ulysses": all-to-all between sequence and head sharding; the degree must divide the head count. */
@Component(service = ParallelStrategy.class, property = ParallelStrategy.NAME_PROPERTY + "=" + UlyssesStrategy.NAME)
public final class UlyssesStrategy extends SequenceParallelStrategy {
    /** Configuration name. */
    public static final String NAME = "ulysses";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Ulysses sequence parallelism: all-to-all to head sharding, full attention per head slice";
    }

    @Override
    void checkDegrees(ParallelPlan plan) {
        if (plan.ring() != 1) {
            throw new IllegalArgumentException("strategy 'ulysses' runs with ring degree 1, got ring=" + plan.ring()
                    + "; use strategy 'usp' for ulysses x ring");
        }
    }
}
