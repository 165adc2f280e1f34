package io.diffuse.testkit.contract;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.core.local.LocalStrategy;
import java.util.List;
import java.util.Optional;

/** The core's "local" strategy: one rank, and it refuses to split the sequence. */
class LocalStrategyContractTest extends ParallelStrategyContract {
    @Override
    protected ParallelStrategy strategy() {
        return new LocalStrategy();
    }

    @Override
    protected List<ParallelPlan> plans() {
        return List.of(ParallelPlan.single());
    }

    @Override
    protected Optional<ParallelPlan> unsupportedPlan() {
        return Optional.of(new ParallelPlan(2, 2, 1, 1, 1));
    }
}
