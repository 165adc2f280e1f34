package io.diffuse.hunyuan15.vae;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import org.bytedeco.pytorch.Device;

/**
 * A single-rank CPU fp32 run for VAE component tests: the loader, executor and tiling are real; the
 * VAE components use neither process groups (single rank, non-distributed executors) nor a
 * sequence-parallel strategy.
 */
record VaeTestContext(CheckpointLoader checkpoints, VaeExecutor vaeExecutor, TilingSettings tiling)
        implements RuntimeContext {
    @Override
    public Device device() {
        return new Device("cpu");
    }

    @Override
    public DType dtype() {
        return DType.FP32;
    }

    @Override
    public ProcessGroups groups() {
        return null; // single rank: the local and tiled executors never touch groups
    }

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int worldSize() {
        return 1;
    }

    @Override
    public ParallelStrategy strategy() {
        throw new UnsupportedOperationException("VAE components use no sequence-parallel strategy");
    }

    @Override
    public boolean vaeResultOnAllRanks() {
        return true;
    }
}
