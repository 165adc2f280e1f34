package io.diffuse.core.config;

import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's built-in defaults (its provider's {@code defaultSettings}) added under the user's layers.
 * A group that holds the rank count ({@code diffuse.parallel.nproc}) is two defaults: the rank count,
 * which applies unless a rank count is given, and the layout the model chose for that rank count (the
 * group's other keys), which applies only while no rank count and none of its keys are given. So one
 * layout key means the same in every layer: {@code strategy = ring} alone (a flag, a {@code .cfg},
 * the environment) keeps the model's ranks and puts them into one ring
 * ({@link ParallelDefaults#allRanksInOneGroup}), and {@code --nproc 4} alone replaces the model's
 * layout with one group of 4.
 */
public final class ModelDefaults {
    private ModelDefaults() {
    }

    /**
     * @param groups the model's default groups, each applied as a whole (see {@link LayeredConfig#withDefaultGroups})
     * @param origin described in {@code info --config-dump}
     */
    public static LayeredConfig add(LayeredConfig layers, List<? extends Map<String, ?>> groups, String origin) {
        LayeredConfig out = layers;
        for (Map<String, ?> group : groups) {
            Object ranks = group.get(ParallelDefaults.NPROC);
            if (ranks == null || group.size() == 1) {
                out = out.withDefaultGroups(List.of(group), origin);
                continue;
            }
            out = out.withDefaultGroups(List.of(Map.of(ParallelDefaults.NPROC, ranks)), origin);
            Map<String, Object> layout = new LinkedHashMap<>(group);
            layout.remove(ParallelDefaults.NPROC);
            // The layout is for the model's rank count: not for one the user gave, nor one a host fixed
            // below the user's layers (a server's world) that differs from it.
            if (!out.isSet(ParallelDefaults.NPROC) && sameRankCount(out.effective(), ranks)) {
                out = out.withDefaultGroups(List.of(layout), origin);
            }
        }
        return out;
    }

    private static boolean sameRankCount(Config effective, Object ranks) {
        try {
            return String.valueOf(effective.getInt(ParallelDefaults.NPROC)).equals(String.valueOf(ranks).trim());
        } catch (com.typesafe.config.ConfigException e) {
            return false; // EngineSettings reports the bad value with its path
        }
    }
}
