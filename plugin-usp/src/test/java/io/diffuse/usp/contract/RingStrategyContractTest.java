package io.diffuse.usp.contract;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.testkit.contract.ParallelStrategyContract;
import io.diffuse.usp.RingStrategy;
import java.util.List;

/** plugin-usp's "Ring" strategy against the strategy contract. */
class RingStrategyContractTest extends ParallelStrategyContract {
    @Override
    protected ParallelStrategy strategy() {
        return new RingStrategy();
    }

    @Override
    protected List<ParallelPlan> plans() {
        return List.of(new ParallelPlan(2, 1, 2, 1, 1), new ParallelPlan(4, 1, 4, 1, 1), new ParallelPlan(3, 1, 3, 1, 1));
    }
}
