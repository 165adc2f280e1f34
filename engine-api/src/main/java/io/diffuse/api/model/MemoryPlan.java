package io.diffuse.api.model;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;

/**
 * What a request's memory depends on besides the request itself, for
 * {@link ModelProvider#estimateMemory}: the compute dtype, the parallel plan (how the sequence and the
 * VAE tiles are split over ranks), the VAE tiling, the attention backend ({@code diffuse.attention.backend}:
 * {@code math} materialises score matrices, quadratic in the sequence; the fused kernels do not) and the
 * loader to read the model's configuration.
 */
public record MemoryPlan(DType dtype, ParallelPlan parallel, TilingSettings tiling, String attentionBackend,
        CheckpointLoader checkpoints) {
}
