package io.diffuse.vaepp.contract;

import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.testkit.contract.VaeExecutorContract;
import io.diffuse.vaepp.PatchParallelVaeExecutor;
import java.util.List;

/** plugin-vaepp's "patch-parallel" executor: bit-identical to the single-rank tiled reference on 2 and 3 ranks. */
class PatchParallelVaeExecutorContractTest extends VaeExecutorContract {
    @Override
    protected VaeExecutor executor() {
        return new PatchParallelVaeExecutor();
    }

    @Override
    protected List<Integer> vaeRanks() {
        return List.of(2, 3);
    }
}
