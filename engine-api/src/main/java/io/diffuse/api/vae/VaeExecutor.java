package io.diffuse.api.vae;

import org.bytedeco.pytorch.Tensor;

/**
 * A named way to run VAE encode/decode ("local", "tiled", "patch-parallel"): where tiles run and how
 * they are merged. Registered as a service and chosen by name from configuration.
 */
public interface VaeExecutor {
    /** Service property carrying {@link #name()}. */
    String NAME_PROPERTY = "vae.executor.name";

    /** The name configuration uses to choose this executor. */
    String name();

    /** One line for {@code diffuse info}. */
    String description();

    /** Whether this executor spreads work over the VAE group (and so needs a tile-capable VAE). */
    boolean distributed();

    /** Encodes (B, 3, T, H, W) pixels in [-1, 1] to unscaled latents. Called on every rank. */
    Tensor encode(TiledVae vae, Tensor sample, VaeRun run);

    /** Decodes unscaled latents to pixels. Called on every rank. */
    Tensor decode(TiledVae vae, Tensor latent, VaeRun run);

    /**
     * Checks this plugin's own configuration keys (types, ranges, files), before any rank starts; the
     * engine calls it for every installed plugin with the effective configuration below
     * {@code diffuse}. Default: nothing to check.
     *
     * @throws io.diffuse.api.DiffuseException one line naming the full path, e.g. via
     *         {@link io.diffuse.api.config.PluginSettings#invalid}
     */
    default void checkConfiguration(io.diffuse.api.config.PluginSettings diffuse) {
    }
}
