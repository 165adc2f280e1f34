package io.diffuse.hunyuan15.pipeline;

import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.MemoryPlan;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.hunyuan15.image.ResolutionBuckets;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15TransformerConfig;
import io.diffuse.hunyuan15.vae.HunyuanVideo15VaeConfig;

/**
 * An upper bound of one request's memory on the rank that needs the most (world rank 0, which holds the
 * decoded video), above what the loaded model holds, from the shapes {@link HunyuanVideo15Pipeline#generate}
 * makes. The peak is the larger of two stages, plus what lives through both (the latents and their
 * condition tensors) and a fixed allowance:
 * <ul>
 * <li>denoise: one transformer block's activations at this rank's share of the tokens (Ulysses and ring
 * split the sequence): about ten hidden-width tensors plus two of the feed-forward width;
 * <li>decode: the decoder's activations on one tile (all frames; every level's channels at its
 * resolution, about six tensors deep) plus the video: the tile outputs (overlapping tiles cover more
 * than the frame), the merged result, three float copies (the [0, 1] conversion) and the 8-bit frames
 * the MP4 writer encodes.
 * </ul>
 * Measured against the peak RSS of real jobs (ServeAdmissionTest). Attention is linear in the sequence
 * with the fused kernels SDPA and the strategies use; with {@code diffuse.attention.backend = math} the
 * score matrices are added.
 */
public final class HunyuanVideo15MemoryEstimate {
    /** Allocator pools, kernel workspaces and first-use code of a job, seen as a job's peak even for tiny videos. */
    static final long FIXED_BYTES = 192L << 20;
    /** Tokens of the all-zero or SigLIP image embeddings the transformer attends to. */
    private static final int IMAGE_TOKENS = 729;

    private HunyuanVideo15MemoryEstimate() {
    }

    /**
     * @param textTokens prompt tokens the encoders give (Qwen crop plus ByT5)
     * @param targetSize the transformer's target_size: the default bucket when the request gives no size
     */
    public static long bytes(HunyuanVideo15TransformerConfig transformer, HunyuanVideo15VaeConfig vae, int textTokens,
            int targetSize, GenerationRequest request, MemoryPlan plan) {
        long b = plan.dtype() == DType.FP32 ? 4 : 2;
        long height;
        long width;
        if (request.height().isPresent() && request.width().isPresent()) {
            height = request.height().get();
            width = request.width().get();
        } else {
            // T2V: the 16:9 bucket of the target size; I2V: the input image's bucket, of about the same area.
            ResolutionBuckets.Size bucket = ResolutionBuckets.closest(9, 16, targetSize);
            height = bucket.height();
            width = bucket.width();
        }
        long frames = Math.max(1, request.numFrames());
        int r = vae.spatialCompressionRatio();
        int rt = vae.temporalCompressionRatio();
        long latentFrames = (frames - 1) / rt + 1;
        long latentArea = ceil(height, r) * ceil(width, r);
        long latentElements = latentFrames * latentArea;
        // latents, the condition and mask, the model input, the prediction(s) and the next latents; noise drawn in fp32
        long latents = (transformer.inChannels() + 6L * vae.latentChannels()) * latentElements * Math.max(b, 4);

        long tokens = ceil(latentFrames, transformer.patchSizeT()) * ceil(ceil(height, r), transformer.patchSize())
                * ceil(ceil(width, r), transformer.patchSize()) + textTokens + IMAGE_TOKENS;
        long tokensHere = ceil(tokens, plan.parallel().sequence());
        long denoise = tokensHere * (10L * transformer.hiddenSize() + 2L * transformer.mlpHidden()) * b;
        if ("math".equals(plan.attentionBackend())) {
            // Explicit scores and their softmax: a rank's heads over the whole sequence (SDPA's math path), or
            // the ring's query chunks, bounded at 64 Mi score elements each (BlockAttention).
            long headsHere = ceil(transformer.numAttentionHeads(), plan.parallel().ulysses());
            denoise += plan.parallel().ring() > 1 ? 3L * (64L << 20) * 4 : 2L * headsHere * tokens * tokens * Math.max(b, 4);
        }

        TilingSettings tiling = plan.tiling();
        boolean tiled = tiling.enabled() && (height > tiling.tileSampleSize() || width > tiling.tileSampleSize());
        long tileArea = tiled ? Math.min(height, tiling.tileSampleSize()) * Math.min(width, tiling.tileSampleSize())
                : height * width;
        double channels = 0;
        int[] levels = vae.blockOutChannels();
        for (int l = 0; l < levels.length; l++) {
            channels += levels[l] / Math.pow(4, l); // level l runs at 1/2^l of the resolution
        }
        long decoder = (long) (frames * tileArea * channels * 6 * b);
        double coverage = tiled ? 1 / Math.pow(1 - tiling.overlap(), 2) : 0;
        long videoElements = 3L * frames * height * width;
        long video = (long) (videoElements * (b * (1 + coverage) + 3 * 4 + 1));
        return FIXED_BYTES + latents + Math.max(denoise, decoder + video);
    }

    private static long ceil(long a, long b) {
        return (a + b - 1) / b;
    }
}
