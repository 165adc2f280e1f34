package io.diffuse.api.parallel;

/**
 * How ranks are laid out: {@code world = cfg * ulysses * ring}; the VAE runs on the first
 * {@code vae} ranks ({@code 1 <= vae <= world}). Construction checks only the arithmetic the plan
 * itself can check; the engine's configuration validation reports errors with their config path.
 */
public record ParallelPlan(int world, int ulysses, int ring, int cfg, int vae) {
    public ParallelPlan {
        if (world < 1 || ulysses < 1 || ring < 1 || cfg < 1 || vae < 1) {
            throw new IllegalArgumentException("all degrees must be >= 1: " + describe(world, ulysses, ring, cfg, vae));
        }
        if (ulysses * ring * cfg != world) {
            throw new IllegalArgumentException("ulysses x ring x cfg = " + ulysses + " x " + ring + " x " + cfg + " = "
                    + (ulysses * ring * cfg) + " does not match the " + world + " ranks");
        }
        if (vae > world) {
            throw new IllegalArgumentException("vae parallel size " + vae + " exceeds the " + world + " ranks");
        }
    }

    /** One rank, nothing parallel. */
    public static ParallelPlan single() {
        return new ParallelPlan(1, 1, 1, 1, 1);
    }

    /** Sequence-parallel degree, {@code ulysses * ring}. */
    public int sequence() {
        return ulysses * ring;
    }

    @Override
    public String toString() {
        return describe(world, ulysses, ring, cfg, vae);
    }

    private static String describe(int world, int ulysses, int ring, int cfg, int vae) {
        return "world=" + world + " ulysses=" + ulysses + " ring=" + ring + " cfg=" + cfg + " vae=" + vae;
    }
}
