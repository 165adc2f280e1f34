package io.diffuse.testkit;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.local.LocalStrategy;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.distributed.RequestContext;
import java.util.Map;
import org.bytedeco.pytorch.Device;

/**
 * A one-rank {@link io.diffuse.api.runtime.RuntimeContext} for tests: CPU (or a given device, e.g.
 * {@code meta} for the shape-only lane), the engine's checkpoint loader, single-rank process groups and
 * the "local" strategy. A VAE executor is optional; asking for one that was not given is an error.
 */
public final class SingleRankContext extends RequestContext {
    /** System property naming the device of the constructors without one (default cpu); tools/cuda_parity.sh sets cuda. */
    public static final String DEVICE_PROPERTY = "diffuse.test.device";

    /**
     * The device tests run on: {@code -Ddiffuse.test.device} (cpu unless set). On CUDA, cuDNN's TF32
     * convolutions are switched off, as parity with the fp32 diffusers fixtures needs full fp32 (cuBLAS
     * matmuls are fp32 by default).
     */
    public static Device testDevice() {
        String name = System.getProperty(DEVICE_PROPERTY, "cpu");
        Device device = new Device(name);
        if (device.is_cuda()) {
            org.bytedeco.pytorch.global.torch.globalContext().setAllowTF32CuDNN(false);
            org.bytedeco.pytorch.global.torch.globalContext().setAllowTF32CuBLAS(false);
        }
        return device;
    }

    /** A context computing in {@code dtype} on {@link #testDevice()}, with no VAE executor. */
    public SingleRankContext(DType dtype) {
        this(dtype, null, TilingSettings.defaults(false));
    }

    /** A context computing in {@code dtype} with the given VAE executor and tiling. */
    public SingleRankContext(DType dtype, VaeExecutor vaeExecutor, TilingSettings tiling) {
        this(testDevice(), dtype, vaeExecutor, tiling);
    }

    /** A context computing in {@code dtype} on {@code device} with the given VAE executor (may be null) and tiling. */
    public SingleRankContext(Device device, DType dtype, VaeExecutor vaeExecutor, TilingSettings tiling) {
        this(device, dtype, LocalGroups.create(), new LocalStrategy(), vaeExecutor, tiling, true);
    }

    /**
     * A context for one of several in-process ranks (e.g. the groups {@link ThreadRanks#run} hands a
     * rank): the given groups, sequence-parallel strategy and VAE executor.
     *
     * @param vaeResultOnAllRanks whether every rank receives full VAE results (otherwise only world rank 0)
     */
    public SingleRankContext(DType dtype, ProcessGroups groups, ParallelStrategy strategy, VaeExecutor vaeExecutor,
            TilingSettings tiling, boolean vaeResultOnAllRanks) {
        this(testDevice(), dtype, groups, strategy, vaeExecutor, tiling, vaeResultOnAllRanks);
    }

    /** As {@link #SingleRankContext(DType, ProcessGroups, ParallelStrategy, VaeExecutor, TilingSettings, boolean)} on {@code device}. */
    public SingleRankContext(Device device, DType dtype, ProcessGroups groups, ParallelStrategy strategy, VaeExecutor vaeExecutor,
            TilingSettings tiling, boolean vaeResultOnAllRanks) {
        super(device, dtype, new DiffusersCheckpointLoader(), groups, strategy, () -> {
            if (vaeExecutor == null) {
                throw new IllegalStateException("this test context was built without a VAE executor; pass one to the constructor");
            }
            return vaeExecutor;
        }, tiling, vaeResultOnAllRanks, path -> Map.of());
    }
}
