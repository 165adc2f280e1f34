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
 * What the engine hands a model for one request on one rank: what the model was loaded with
 * ({@link ModelContext}) plus the request's process groups and the strategy and VAE executor its plan
 * names.
 */
public interface RuntimeContext extends ModelContext {
    /** This process's global rank. */
    default int rank() {
        return groups().world().rank();
    }

    /** Number of ranks. */
    default int worldSize() {
        return groups().world().size();
    }

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
