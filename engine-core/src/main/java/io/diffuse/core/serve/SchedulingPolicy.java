package io.diffuse.core.serve;

import io.diffuse.core.config.ConfigException;
import java.util.Locale;

/**
 * How the scheduler sizes the lane of the next job ({@code diffuse.serve.scheduler.policy}):
 * {@code latency} gives every job the whole world, {@code throughput} fixed lanes of
 * {@code lane-size} ranks, {@code auto} the whole world while idle and a share of the free ranks
 * while jobs wait.
 */
enum SchedulingPolicy {
    LATENCY, THROUGHPUT, AUTO;

    /** The configuration key. */
    static final String KEY = "diffuse.serve.scheduler.policy";

    /** {@code value} as a policy; anything else is one line naming the key and the choices. */
    static SchedulingPolicy parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(KEY, value, "must be latency, throughput or auto");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
