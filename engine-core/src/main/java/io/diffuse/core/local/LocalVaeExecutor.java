package io.diffuse.core.local;

import io.diffuse.api.vae.TiledVae;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import org.bytedeco.pytorch.Tensor;
import org.osgi.service.component.annotations.Component;

/**
 * The "local" VAE executor: the whole input through the VAE at once on this rank, no tiling (the
 * tiling settings are ignored). Every rank that calls it computes the full result.
 */
@Component(service = VaeExecutor.class, property = VaeExecutor.NAME_PROPERTY + "=local")
public final class LocalVaeExecutor implements VaeExecutor {
    @Override
    public String name() {
        return "local";
    }

    @Override
    public String description() {
        return "whole input through the VAE on each rank, untiled";
    }

    @Override
    public boolean distributed() {
        return false;
    }

    @Override
    public Tensor encode(TiledVae vae, Tensor sample, VaeRun run) {
        vae.checkInput(sample, true);
        return vae.encodeTile(sample);
    }

    @Override
    public Tensor decode(TiledVae vae, Tensor latent, VaeRun run) {
        vae.checkInput(latent, false);
        return vae.decodeTile(latent);
    }
}
