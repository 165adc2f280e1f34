package org.example.allgather;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.testkit.contract.ParallelStrategyContract;
import java.util.List;

/** The third-party "allgather" strategy: its whole test is the engine-testkit contract and the plans it runs. */
class AllGatherStrategyContractTest extends ParallelStrategyContract {
    @Override
    protected ParallelStrategy strategy() {
        return new AllGatherStrategy();
    }

    @Override
    protected List<ParallelPlan> plans() {
        return List.of(new ParallelPlan(2, 1, 2, 1, 1), new ParallelPlan(4, 2, 2, 1, 1), new ParallelPlan(3, 1, 3, 1, 1));
    }
}
