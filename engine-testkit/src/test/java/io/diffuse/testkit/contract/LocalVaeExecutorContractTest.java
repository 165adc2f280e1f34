package io.diffuse.testkit.contract;

import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.local.LocalVaeExecutor;
import java.util.List;

/** The core's "local" VAE executor: the whole VAE on one rank. */
class LocalVaeExecutorContractTest extends VaeExecutorContract {
    @Override
    protected VaeExecutor executor() {
        return new LocalVaeExecutor();
    }

    @Override
    protected List<Integer> vaeRanks() {
        return List.of(1);
    }

    @Override
    protected boolean tiles() {
        return false;
    }
}
