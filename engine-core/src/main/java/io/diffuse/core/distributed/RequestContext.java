package io.diffuse.core.distributed;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Device;

/**
 * The {@link RuntimeContext} of one request: its plan's groups, strategy, VAE executor and tiling,
 * with the device, dtype and configuration the model was loaded with; what {@link RankRuntime#context}
 * hands a pipeline per request, and what test contexts build directly. The VAE executor is looked up only when asked for, so work
 * without a VAE (a transformer run) needs none installed.
 */
public class RequestContext implements RuntimeContext {
    private final Device device;
    private final DType dtype;
    private final CheckpointLoader checkpoints;
    private final ProcessGroups groups;
    private final ParallelStrategy strategy;
    private final Supplier<VaeExecutor> vaeExecutor;
    private final TilingSettings tiling;
    private final boolean vaeResultOnAllRanks;
    private final Function<String, Map<String, Object>> configuration;

    /**
     * @param vaeExecutor looks up the VAE executor when a model asks for it
     * @param configuration the configuration subtree at a path (see {@link RuntimeContext#configuration})
     */
    public RequestContext(Device device, DType dtype, CheckpointLoader checkpoints, ProcessGroups groups,
            ParallelStrategy strategy, Supplier<VaeExecutor> vaeExecutor, TilingSettings tiling,
            boolean vaeResultOnAllRanks, Function<String, Map<String, Object>> configuration) {
        this.device = device;
        this.dtype = dtype;
        this.checkpoints = checkpoints;
        this.groups = groups;
        this.strategy = strategy;
        this.vaeExecutor = vaeExecutor;
        this.tiling = tiling;
        this.vaeResultOnAllRanks = vaeResultOnAllRanks;
        this.configuration = configuration;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public CheckpointLoader checkpoints() {
        return checkpoints;
    }

    @Override
    public ProcessGroups groups() {
        return groups;
    }

    @Override
    public ParallelStrategy strategy() {
        return strategy;
    }

    @Override
    public VaeExecutor vaeExecutor() {
        return vaeExecutor.get();
    }

    @Override
    public TilingSettings tiling() {
        return tiling;
    }

    @Override
    public boolean vaeResultOnAllRanks() {
        return vaeResultOnAllRanks;
    }

    @Override
    public Map<String, Object> configuration(String path) {
        return configuration.apply(path);
    }
}
