package io.diffuse.core.config;

import com.typesafe.config.Config;
import java.util.List;
import java.util.Locale;

/** Defaults of the parallel layout that depend on other settings; they fill only what is unset. */
public final class ParallelDefaults {
    static final String NPROC = "diffuse.parallel.nproc";
    /** The sequence-parallel degree keys. */
    public static final String ULYSSES = "diffuse.parallel.ulysses";
    /** Ring degree. */
    public static final String RING = "diffuse.parallel.ring";
    static final String CFG = "diffuse.parallel.cfg";

    private ParallelDefaults() {
    }

    /**
     * With {@code nproc > 1} and no degree set (by the user or a model's defaults), puts every rank into
     * one sequence-parallel group: of the configured strategy's kind when it is "ulysses" or "ring",
     * else of {@code degreeForOtherStrategies} (one of {@link #ULYSSES}, {@link #RING}). So
     * {@code --nproc 4} alone is a valid layout, and {@code --strategy ulysses --nproc 4} is Ulysses 4.
     */
    public static LayeredConfig allRanksInOneGroup(LayeredConfig layers, String degreeForOtherStrategies) {
        Config effective = layers.effective();
        int nproc;
        try {
            nproc = effective.getInt(NPROC);
        } catch (com.typesafe.config.ConfigException e) {
            return layers; // EngineSettings reports the bad value with its path
        }
        if (nproc <= 1 || List.of(ULYSSES, RING, CFG).stream().anyMatch(layers::isSetOrDefaulted)) {
            return layers;
        }
        String strategy = effective.hasPath("diffuse.parallel.strategy")
                ? effective.getString("diffuse.parallel.strategy").trim().toLowerCase(Locale.ROOT) : "auto";
        String degree = switch (strategy) {
            case "ulysses" -> ULYSSES;
            case "ring" -> RING;
            default -> degreeForOtherStrategies;
        };
        return layers.withDefault(degree, nproc, "default: all " + nproc + " ranks in one sequence-parallel group");
    }
}
