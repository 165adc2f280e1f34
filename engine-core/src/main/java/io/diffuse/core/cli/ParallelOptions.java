package io.diffuse.core.cli;

import java.util.Map;
import picocli.CommandLine.Option;

/** Engine options plus the parallel layout flags (--nproc, --ulysses, --ring, --cfg-parallel, VAE). */
public class ParallelOptions extends EngineOptions {
    @Option(names = "--nproc", paramLabel = "N", description = "Ranks to run; spawned as local processes (diffuse.parallel.nproc).")
    Integer nproc;

    @Option(names = "--ulysses", paramLabel = "U", description = "Ulysses degree (diffuse.parallel.ulysses).")
    Integer ulysses;

    @Option(names = "--ring", paramLabel = "R", description = "Ring degree (diffuse.parallel.ring).")
    Integer ring;

    @Option(names = "--cfg-parallel", paramLabel = "C", description = "1, or 2 to run cond/uncond on different ranks (diffuse.parallel.cfg).")
    Integer cfg;

    @Option(names = "--strategy", paramLabel = "NAME", description = "Sequence-parallel strategy by name (diffuse.parallel.strategy).")
    String strategy;

    @Option(names = "--vae-parallel", paramLabel = "V", description = "Ranks that run VAE tiles (diffuse.parallel.vae).")
    Integer vae;

    @Option(names = "--vae-executor", paramLabel = "NAME", description = "VAE executor by name (diffuse.vae.executor).")
    String vaeExecutor;

    @Option(names = "--tiling", description = "Tile the VAE (diffuse.vae.tiling).")
    Boolean tiling;

    @Option(names = "--tile-size", paramLabel = "PX", description = "VAE tile edge in pixels (diffuse.vae.tile-size).")
    Integer tileSize;

    @Option(names = "--tile-overlap", paramLabel = "F", description = "VAE tile overlap factor in [0,1) (diffuse.vae.tile-overlap).")
    Double tileOverlap;

    @Override
    protected Map<String, Object> flags() {
        Map<String, Object> f = super.flags();
        put(f, "diffuse.parallel.nproc", nproc);
        put(f, "diffuse.parallel.ulysses", ulysses);
        put(f, "diffuse.parallel.ring", ring);
        put(f, "diffuse.parallel.cfg", cfg);
        put(f, "diffuse.parallel.strategy", strategy);
        put(f, "diffuse.parallel.vae", vae);
        put(f, "diffuse.vae.executor", vaeExecutor);
        put(f, "diffuse.vae.tiling", tiling);
        put(f, "diffuse.vae.tile-size", tileSize);
        put(f, "diffuse.vae.tile-overlap", tileOverlap);
        return f;
    }
}
