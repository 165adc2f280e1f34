package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.registry.PluginRegistry;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.bytedeco.pytorch.Device;

/**
 * This process's part of a run: its rank, its process groups (one c10d world, or {@link LocalGroups}
 * for a single rank) and the {@link RuntimeContext} models get. Closing it shuts the groups down
 * after a final barrier; {@link #abort()} shuts them down at once so peers fail fast.
 */
public final class RankRuntime implements AutoCloseable {
    private final EngineSettings settings;
    private final PluginRegistry registry;
    private final C10dWorld world;
    private final ProcessGroups localGroups;
    private final int localRank;
    private boolean aborted;

    private RankRuntime(EngineSettings settings, PluginRegistry registry, C10dWorld world, int localRank) {
        this.settings = settings;
        this.registry = registry;
        this.world = world;
        this.localGroups = world == null ? LocalGroups.create() : null;
        this.localRank = localRank;
    }

    /**
     * Joins the run described by {@code environment} (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
     * MASTER_PORT) and {@code settings}. Without RANK this must be a one-rank run; with it, WORLD_SIZE
     * must equal diffuse.parallel.nproc. A one-rank run needs no rendezvous. Sets this process's
     * threads ({@link IntraOpThreads}) and attention backend ({@link AttentionBackend}).
     */
    public static RankRuntime join(EngineSettings settings, PluginRegistry registry, Map<String, String> environment) {
        // Process-wide: this process is one rank, so the rank gets exactly these threads.
        IntraOpThreads.apply(settings.threads(), settings.linear().backend());
        AttentionBackend.apply(settings.attention().backend());
        EngineSettings.Dist dist = settings.dist();
        int nproc = settings.parallel().nproc();
        Optional<RankEnvironment> env = RankEnvironment.from(environment, dist.masterAddr(), dist.masterPort());
        if (env.isEmpty()) {
            if (nproc != 1) {
                throw new DiffuseException("diffuse.parallel.nproc = " + nproc + " but this process is not a rank of a "
                        + "distributed run (RANK is not set); start it with --nproc from the diffuse command, or with torchrun");
            }
            return new RankRuntime(settings, registry, null, 0);
        }
        RankEnvironment e = env.get();
        // A rank of the local launcher halts when the launcher is gone (see LauncherWatch).
        io.diffuse.core.launch.LauncherWatch.startIfLaunched(environment);
        if (e.worldSize() != nproc) {
            throw new DiffuseException("WORLD_SIZE = " + e.worldSize() + " but diffuse.parallel.nproc = " + nproc
                    + "; pass --nproc " + e.worldSize() + " (and degrees that multiply to it)");
        }
        if (e.worldSize() == 1) {
            return new RankRuntime(settings, registry, null, e.localRank());
        }
        return new RankRuntime(settings, registry, C10dWorld.join(e, dist.backend(), dist.timeout(), true), e.localRank());
    }

    /** What is installed in this rank's process (strategies, VAE executors, cache policies, models). */
    public PluginRegistry registry() {
        return registry;
    }

    /** The settings this runtime was built from. */
    public EngineSettings settings() {
        return settings;
    }

    /** Global rank. */
    public int rank() {
        return world == null ? 0 : world.environment().rank();
    }

    /** Number of ranks. */
    public int worldSize() {
        return world == null ? 1 : world.environment().worldSize();
    }

    /** The groups of the configured plan. */
    public ProcessGroups groups() {
        return groups(settings.parallel().plan());
    }

    /** The groups of {@code plan} (same world size), built collectively on first use and cached. */
    public ProcessGroups groups(ParallelPlan plan) {
        if (world == null) {
            if (plan.world() != 1) {
                throw new DiffuseException("parallel plan " + plan + " needs " + plan.world() + " ranks but this run has 1");
            }
            return localGroups;
        }
        return world.groups(plan);
    }

    /**
     * All ranks on Gloo over CPU tensors, also when the data plane is NCCL: for a server's control
     * plane (see {@link C10dWorld#controlGroup()}); a one-rank run gets a group of itself.
     */
    public ProcessGroup controlGroup() {
        return world == null ? new SingleRankGroup("control", 0) : world.controlGroup();
    }

    /** cpu, the configured cuda:N, or cuda:LOCAL_RANK for "cuda". */
    public Device device() {
        String d = settings.device();
        return new Device(d.equals("cuda") ? "cuda:" + localRank : d);
    }

    /**
     * The context a model runs in, with the configured strategy looked up by name now and the
     * configured VAE executor when {@link RuntimeContext#vaeExecutor()} is first asked for.
     *
     * @throws io.diffuse.api.NotInstalledException when the strategy (or, from {@code vaeExecutor()},
     *         the VAE executor) is not installed
     */
    public RuntimeContext context(CheckpointLoader checkpoints) {
        return context(checkpoints, settings);
    }

    /**
     * The context of one request whose plan, strategy, VAE executor and tiling come from
     * {@code request} (same world; groups built on first use and cached per layout), while device,
     * dtype and configuration stay this runtime's, as the model was loaded with them.
     */
    public RuntimeContext context(CheckpointLoader checkpoints, EngineSettings request) {
        if (request.parallel().nproc() != worldSize()) {
            throw new DiffuseException("a plan of " + request.parallel().nproc() + " ranks cannot run in this world of "
                    + worldSize());
        }
        ParallelStrategy strategy = registry.strategy(request.parallel().strategy());
        // diffuse.cache.policy (default "none"), checked with its settings before the run starts.
        Map<String, Object> cache = request.subtree("diffuse.cache");
        StepCachePolicy cachePolicy = registry.cachePolicy(String.valueOf(cache.getOrDefault("policy", StepCachePolicy.NONE)));
        cachePolicy.validate(cache);
        String executorName = request.vae().executor();
        // Looked up when asked for: work without a VAE (a transformer run) needs no VAE executor installed.
        return new RequestContext(device(), settings.dtype(), checkpoints, groups(request.parallel().plan()), strategy,
                () -> registry.vaeExecutor(executorName), request.vae().tilingSettings(),
                request.vae().resultOnAllRanks(), request::subtree) {
            @Override
            public StepCachePolicy cachePolicy() {
                return cachePolicy;
            }
        };
    }

    /** What a model is loaded with on this rank: device, dtype, checkpoints and configuration, no plan. */
    public ModelContext modelContext(CheckpointLoader checkpoints) {
        return new LoadContext(device(), settings.dtype(), checkpoints, rank(), settings::subtree);
    }

    /** A {@link ModelContext}: what is fixed when the model loads. */
    private record LoadContext(Device device, DType dtype, CheckpointLoader checkpoints, int rank,
            java.util.function.Function<String, java.util.Map<String, Object>> subtrees) implements ModelContext {
        @Override
        public java.util.Map<String, Object> configuration(String path) {
            return subtrees.apply(path);
        }
    }

    /** Shuts the groups down now, without the final barrier: for a rank that failed. */
    public void abort() {
        aborted = true;
        if (world != null) {
            world.close();
        }
    }

    @Override
    public void close() {
        if (world != null && !aborted) {
            world.closeGracefully();
        }
    }
}
