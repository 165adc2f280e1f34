package io.diffuse.api.vae;

import org.bytedeco.pytorch.Tensor;

/**
 * A video VAE whose encoder and decoder can run on spatial tiles: what a {@link VaeExecutor}
 * drives. Tensors are (B, C, T, H, W). Encoding returns the posterior mode before any scaling
 * factor; decoding takes unscaled latents.
 */
public interface TiledVae {
    /** Pixels per latent along H and W. */
    int spatialCompression();

    /** Frames per latent frame after the first. */
    int temporalCompression();

    /** Latent channels. */
    int latentChannels();

    /** Whether {@link #encodeTile}/{@link #decodeTile} may be used on parts of an input. */
    boolean supportsTiling();

    /** Encodes a whole sample (or one tile of it) to the posterior mode. */
    Tensor encodeTile(Tensor sample);

    /** Decodes whole latents (or one tile of them). */
    Tensor decodeTile(Tensor latent);

    /**
     * Checks an input for encode (pixels) or decode (latents) and throws
     * {@link IllegalArgumentException} naming the dimension and the allowed values.
     */
    void checkInput(Tensor input, boolean encode);
}
