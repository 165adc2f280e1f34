package io.diffuse.api.runtime;

import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import java.util.Map;
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

    /**
     * The engine's effective configuration under {@code path} (e.g. {@code "diffuse.hunyuan15"}), for
     * plugins, which cannot read the engine's configuration format themselves: every leaf below
     * {@code path}, keyed by its dotted path relative to it (e.g. {@code "text-encoder.torchscript"}),
     * with plain values (String, Number, Boolean, or a List of those). Includes the defaults of every
     * installed bundle's reference.conf and the user's overrides.
     *
     * @param path a dotted configuration path
     * @return the leaves under {@code path}; empty when the path is absent, and by default (a context
     *         with no configuration behind it)
     */
    default Map<String, Object> configuration(String path) {
        return Map.of();
    }

    /**
     * The step-cache policy configured by {@code diffuse.cache.policy}; its settings are
     * {@code configuration("diffuse.cache")}.
     *
     * @return by default (and for {@code "none"}) no caching
     */
    default StepCachePolicy cachePolicy() {
        return StepCachePolicy.none();
    }

    /** The run description a {@link VaeExecutor} expects. */
    default VaeRun vaeRun() {
        return new VaeRun(tiling(), groups(), vaeResultOnAllRanks());
    }
}
