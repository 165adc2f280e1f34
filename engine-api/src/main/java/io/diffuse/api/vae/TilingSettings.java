package io.diffuse.api.vae;

/**
 * Spatial tiling of a VAE, in diffusers' terms: tiles of {@code tileSampleSize} pixels
 * ({@code tileSampleSize / spatialCompression} latents) that overlap by {@code overlap} of a tile.
 *
 * @param enabled whether to tile at all (inputs no larger than one tile are never tiled)
 * @param tileSampleSize tile edge in pixels; a multiple of the VAE's spatial compression
 * @param overlap overlap factor in [0, 1)
 */
public record TilingSettings(boolean enabled, int tileSampleSize, double overlap) {
    public TilingSettings {
        if (tileSampleSize < 1) {
            throw new IllegalArgumentException("tile size must be positive: " + tileSampleSize);
        }
        if (!(overlap >= 0 && overlap < 1)) {
            throw new IllegalArgumentException("tile overlap must be in [0, 1): " + overlap);
        }
    }

    /** diffusers' HunyuanVideo 1.5 defaults: 256 px tiles, overlap 0.25. */
    public static TilingSettings defaults(boolean enabled) {
        return new TilingSettings(enabled, 256, 0.25);
    }
}
