package io.diffuse.usp;

import io.diffuse.api.parallel.ParallelStrategy;

/** The plugin's strategies by configuration name, for tests. */
final class Strategies {
    private Strategies() {
    }

    static ParallelStrategy byName(String name) {
        return switch (name) {
            case "ulysses" -> new UlyssesStrategy();
            case "ring" -> new RingStrategy();
            case "usp" -> new UspStrategy();
            default -> throw new IllegalArgumentException(name);
        };
    }
}
