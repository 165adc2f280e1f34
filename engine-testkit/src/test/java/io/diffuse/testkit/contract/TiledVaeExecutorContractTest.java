package io.diffuse.testkit.contract;

import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.local.TiledVaeExecutor;
import java.util.List;

/** The core's "tiled" VAE executor: diffusers' tiling on one rank (the reference the others must equal). */
class TiledVaeExecutorContractTest extends VaeExecutorContract {
    @Override
    protected VaeExecutor executor() {
        return new TiledVaeExecutor();
    }

    @Override
    protected List<Integer> vaeRanks() {
        return List.of(1);
    }
}
