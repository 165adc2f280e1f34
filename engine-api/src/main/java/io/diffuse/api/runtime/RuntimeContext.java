package io.diffuse.api.runtime;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import org.bytedeco.pytorch.Device;

/**
 * What the engine hands a model for one run on one rank: device, dtype, process groups and the
 * strategy and VAE executor chosen by configuration.
 */
public interface RuntimeContext {
    /** This process's global rank. */
    default int rank() {
        return groups().world().rank();
    }

    /** Number of ranks. */
    default int worldSize() {
        return groups().world().size();
    }

    /** Device tensors live on (CPU, or this rank's CUDA device). */
    Device device();

    /** Compute dtype. */
    DType dtype();

    /** The engine's checkpoint and safetensors reader. */
    CheckpointLoader checkpoints();

    /** Process groups of the configured plan. */
    ProcessGroups groups();

    /** The configured sequence-parallel strategy. */
    ParallelStrategy strategy();

    /** A fresh attention from {@link #strategy()} over {@link #groups()}. */
    default SequenceParallelAttention attention() {
        return strategy().create(groups());
    }

    /** The configured VAE executor. */
    VaeExecutor vaeExecutor();

    /** Configured VAE tiling. */
    TilingSettings tiling();

    /** Whether every rank needs full VAE results (otherwise only world rank 0). */
    boolean vaeResultOnAllRanks();

    /** The run description a {@link VaeExecutor} expects. */
    default VaeRun vaeRun() {
        return new VaeRun(tiling(), groups(), vaeResultOnAllRanks());
    }
}
