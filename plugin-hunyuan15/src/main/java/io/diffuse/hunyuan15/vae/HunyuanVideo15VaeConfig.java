package io.diffuse.hunyuan15.vae;

import io.diffuse.api.DiffuseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The config.json of an AutoencoderKLHunyuanVideo15 (diffusers field names, same defaults).
 *
 * @param inChannels pixel channels in
 * @param outChannels pixel channels out
 * @param latentChannels latent channels (the encoder emits twice as many: mean and log-variance)
 * @param blockOutChannels channels per encoder level (reversed for the decoder)
 * @param layersPerBlock resnets per encoder level (the decoder has one more)
 * @param spatialCompressionRatio pixels per latent along H and W (a power of two)
 * @param temporalCompressionRatio frames per latent frame after the first (a power of two)
 * @param downsampleMatchChannel whether a downsampler outputs the next level's channels
 * @param upsampleMatchChannel whether an upsampler outputs the next level's channels
 * @param scalingFactor latents for the transformer are the posterior mode times this
 */
public record HunyuanVideo15VaeConfig(int inChannels, int outChannels, int latentChannels, int[] blockOutChannels,
        int layersPerBlock, int spatialCompressionRatio, int temporalCompressionRatio,
        boolean downsampleMatchChannel, boolean upsampleMatchChannel, double scalingFactor) {

    /** Checks the combination; every error names the config.json field. */
    public HunyuanVideo15VaeConfig {
        blockOutChannels = blockOutChannels.clone();
        positive("in_channels", inChannels);
        positive("out_channels", outChannels);
        positive("latent_channels", latentChannels);
        positive("layers_per_block", layersPerBlock);
        powerOfTwo("spatial_compression_ratio", spatialCompressionRatio);
        powerOfTwo("temporal_compression_ratio", temporalCompressionRatio);
        if (temporalCompressionRatio > spatialCompressionRatio) {
            throw new DiffuseException("VAE config.json: temporal_compression_ratio " + temporalCompressionRatio
                    + " exceeds spatial_compression_ratio " + spatialCompressionRatio + "; not supported");
        }
        int levels = log2(spatialCompressionRatio);
        if (blockOutChannels.length < levels + 1) {
            throw new DiffuseException("VAE config.json: block_out_channels " + Arrays.toString(blockOutChannels)
                    + " has " + blockOutChannels.length + " levels; spatial_compression_ratio "
                    + spatialCompressionRatio + " needs at least " + (levels + 1));
        }
        for (int c : blockOutChannels) {
            positive("block_out_channels entry", c);
        }
        int last = blockOutChannels[blockOutChannels.length - 1];
        if (last % (2 * latentChannels) != 0) {
            throw new DiffuseException("VAE config.json: block_out_channels[-1] = " + last
                    + " must be a multiple of 2 * latent_channels = " + 2 * latentChannels);
        }
    }

    /** Reads a parsed config.json; absent fields take diffusers' defaults. */
    public static HunyuanVideo15VaeConfig fromJson(Map<String, Object> json) {
        return new HunyuanVideo15VaeConfig(
                intField(json, "in_channels", 3),
                intField(json, "out_channels", 3),
                intField(json, "latent_channels", 32),
                intList(json, "block_out_channels", new int[] {128, 256, 512, 1024, 1024}),
                intField(json, "layers_per_block", 2),
                intField(json, "spatial_compression_ratio", 16),
                intField(json, "temporal_compression_ratio", 4),
                boolField(json, "downsample_match_channel", true),
                boolField(json, "upsample_match_channel", true),
                doubleField(json, "scaling_factor", 1.03682));
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HunyuanVideo15VaeConfig c && c.toString().equals(toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    @Override
    public String toString() {
        return "HunyuanVideo15VaeConfig[in_channels=" + inChannels + ", out_channels=" + outChannels
                + ", latent_channels=" + latentChannels + ", block_out_channels=" + Arrays.toString(blockOutChannels)
                + ", layers_per_block=" + layersPerBlock + ", spatial_compression_ratio=" + spatialCompressionRatio
                + ", temporal_compression_ratio=" + temporalCompressionRatio + ", downsample_match_channel="
                + downsampleMatchChannel + ", upsample_match_channel=" + upsampleMatchChannel + ", scaling_factor="
                + scalingFactor + "]";
    }

    static int log2(int powerOfTwo) {
        return Integer.numberOfTrailingZeros(powerOfTwo);
    }

    private static void positive(String field, int v) {
        if (v < 1) {
            throw new DiffuseException("VAE config.json: " + field + " must be positive, got " + v);
        }
    }

    private static void powerOfTwo(String field, int v) {
        if (v < 1 || Integer.bitCount(v) != 1) {
            throw new DiffuseException("VAE config.json: " + field + " must be a power of two, got " + v);
        }
    }

    private static int intField(Map<String, Object> json, String key, int dflt) {
        Object v = json.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            return n.intValue();
        }
        throw new DiffuseException("VAE config.json: " + key + " must be an integer, got " + v);
    }

    private static double doubleField(Map<String, Object> json, String key, double dflt) {
        Object v = json.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new DiffuseException("VAE config.json: " + key + " must be a number, got " + v);
    }

    private static boolean boolField(Map<String, Object> json, String key, boolean dflt) {
        Object v = json.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new DiffuseException("VAE config.json: " + key + " must be true or false, got " + v);
    }

    private static int[] intList(Map<String, Object> json, String key, int[] dflt) {
        Object v = json.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof List<?> list && !list.isEmpty()) {
            List<Integer> out = new ArrayList<>();
            for (Object o : list) {
                if (!(o instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
                    throw new DiffuseException("VAE config.json: " + key + " must be a list of integers, got " + v);
                }
                out.add(n.intValue());
            }
            return out.stream().mapToInt(Integer::intValue).toArray();
        }
        throw new DiffuseException("VAE config.json: " + key + " must be a non-empty list of integers, got " + v);
    }
}
