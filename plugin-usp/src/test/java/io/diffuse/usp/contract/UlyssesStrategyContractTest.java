package io.diffuse.usp.contract;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.testkit.contract.ParallelStrategyContract;
import io.diffuse.usp.UlyssesStrategy;
import java.util.List;
import java.util.Optional;

/** plugin-usp's "Ulysses" strategy against the strategy contract. */
class UlyssesStrategyContractTest extends ParallelStrategyContract {
    @Override
    protected ParallelStrategy strategy() {
        return new UlyssesStrategy();
    }

    @Override
    protected List<ParallelPlan> plans() {
        return List.of(new ParallelPlan(2, 2, 1, 1, 1), new ParallelPlan(4, 4, 1, 1, 1), new ParallelPlan(3, 3, 1, 1, 1));
    }

    /** 12 heads do not split 5 ways. */
    @Override
    protected Optional<ParallelPlan> unsupportedPlan() {
        return Optional.of(new ParallelPlan(5, 5, 1, 1, 1));
    }
}
