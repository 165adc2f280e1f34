package io.diffuse.usp;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import org.osgi.service.component.annotations.Component;

/**
 * "usp": Ulysses inside contiguous rank groups, Ring across strided groups on the H/ulysses heads,
 * then the reverse all-to-all. Any ulysses x ring whose Ulysses degree divides the head count.
 */
@Component(service = ParallelStrategy.class, property = ParallelStrategy.NAME_PROPERTY + "=" + UspStrategy.NAME)
public final class UspStrategy extends SequenceParallelStrategy {
    /** Configuration name. */
    public static final String NAME = "usp";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Unified sequence parallelism: Ulysses (contiguous ranks) x Ring (strided ranks)";
    }

    @Override
    void checkDegrees(ParallelPlan plan) {
        // Every ulysses x ring is runnable; the head-count check is in validate().
    }
}
