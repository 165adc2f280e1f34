package io.diffuse.usp.contract;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.testkit.contract.ParallelStrategyContract;
import io.diffuse.usp.UspStrategy;
import java.util.List;
import java.util.Optional;

/** plugin-usp's "Usp" strategy against the strategy contract. */
class UspStrategyContractTest extends ParallelStrategyContract {
    @Override
    protected ParallelStrategy strategy() {
        return new UspStrategy();
    }

    @Override
    protected List<ParallelPlan> plans() {
        return List.of(new ParallelPlan(4, 2, 2, 1, 1), new ParallelPlan(6, 3, 2, 1, 1));
    }

    /** 12 heads do not split 5 ways. */
    @Override
    protected Optional<ParallelPlan> unsupportedPlan() {
        return Optional.of(new ParallelPlan(10, 5, 2, 1, 1));
    }
}
