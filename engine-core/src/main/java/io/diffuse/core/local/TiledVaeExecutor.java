package io.diffuse.core.local;

import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TiledVae;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.osgi.service.component.annotations.Component;

/**
 * The single-rank "tiled" VAE executor: diffusers' {@code tiled_encode} / {@code tiled_decode}. The
 * input is cut by a {@link TilePlan} built from the run's tiling settings, every tile goes through
 * the VAE in turn on this rank, and the plan blends, crops and concatenates the outputs. An input
 * that fits one tile (or a run with tiling disabled) goes through the VAE whole, as in diffusers.
 */
@Component(service = VaeExecutor.class, property = VaeExecutor.NAME_PROPERTY + "=tiled")
public final class TiledVaeExecutor implements VaeExecutor {
    @Override
    public String name() {
        return "tiled";
    }

    @Override
    public String description() {
        return "spatial tiles one after another on each rank, blended as diffusers does";
    }

    @Override
    public boolean distributed() {
        return false;
    }

    @Override
    public Tensor encode(TiledVae vae, Tensor sample, VaeRun run) {
        vae.checkInput(sample, true);
        TilePlan plan = TilePlan.encode(sample.size(3), sample.size(4), run.tiling(), vae.spatialCompression());
        return run(plan, vae, sample, true);
    }

    @Override
    public Tensor decode(TiledVae vae, Tensor latent, VaeRun run) {
        vae.checkInput(latent, false);
        TilePlan plan = TilePlan.decode(latent.size(3), latent.size(4), run.tiling(), vae.spatialCompression());
        return run(plan, vae, latent, false);
    }

    private static Tensor run(TilePlan plan, TiledVae vae, Tensor input, boolean encode) {
        if (!plan.tiled()) {
            return encode ? vae.encodeTile(input) : vae.decodeTile(input);
        }
        if (!vae.supportsTiling()) {
            throw new IllegalArgumentException("this VAE cannot run on tiles; disable VAE tiling or use the"
                    + " \"local\" VAE executor");
        }
        // The result outlives the inner scope: it is handed to the caller's scope (or to the caller).
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> outputs = new ArrayList<>(plan.tiles().size());
            for (TilePlan.Tile tile : plan.tiles()) {
                Tensor part = tile.cut(input);
                outputs.add(encode ? vae.encodeTile(part) : vae.decodeTile(part));
            }
            result = plan.merge(outputs);
            if (outer != null) {
                outer.attach(result);
            } else {
                result.retainReference();
            }
        }
        return result;
    }
}
