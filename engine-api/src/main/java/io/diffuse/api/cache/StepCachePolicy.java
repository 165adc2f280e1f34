package io.diffuse.api.cache;

import java.util.List;
import java.util.Map;

/**
 * A named way to skip transformer work between denoising steps ("first-block", "mag-cache"): per
 * step and per guidance branch, a {@link StepCache} decides whether the transformer's remaining
 * blocks run or a cached residual stands in for them. Registered as a service (DS component,
 * {@code META-INF/services}) and chosen by name from {@code diffuse.cache.policy}; "none" (no caching)
 * needs no service.
 */
public interface StepCachePolicy {
    /** Service property carrying {@link #name()}. */
    String NAME_PROPERTY = "cache.policy.name";

    /** The name of "no caching", the default. */
    String NONE = "none";

    /** The name configuration uses to choose this policy. */
    String name();

    /** One line for {@code diffuse info}. */
    String description();

    /**
     * Checks this policy's settings before any rank starts work.
     *
     * @param settings the configuration under {@code diffuse.cache}, keyed relative to it
     *        ({@code "threshold"}, {@code "<policy>.<key>"})
     * @throws io.diffuse.api.DiffuseException naming the key ({@code diffuse.cache...}), the value and what is allowed
     */
    default void validate(Map<String, Object> settings) {
    }

    /**
     * The cache of one generation (one pipeline call) on this rank: fresh state, kept per guidance
     * branch, freed by {@link StepCache#close()}.
     */
    StepCache create(CacheRun run);

    /** The run a {@link StepCache} is created for. */
    record CacheRun(Map<String, Object> settings, int numInferenceSteps, int rank) {
        public CacheRun {
            settings = Map.copyOf(settings);
        }

        /** A number setting relative to {@code diffuse.cache}, or {@code fallback} when absent. */
        public double number(String key, double fallback) {
            Object v = settings.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Number n) {
                return n.doubleValue();
            }
            try {
                return Double.parseDouble(v.toString().trim());
            } catch (NumberFormatException e) {
                throw new io.diffuse.api.DiffuseException("invalid configuration diffuse.cache." + key + " = '" + v
                        + "': expected a number");
            }
        }

        /**
         * A list-of-numbers setting relative to {@code diffuse.cache}: a HOCON list, or a string as a
         * command-line flag gives it ({@code "[1.0, 1.02]"} or {@code "1.0,1.02"}); empty when absent.
         */
        public List<Double> numbers(String key) {
            Object v = settings.get(key);
            if (v instanceof String s) {
                String inner = s.trim().replaceAll("^\\[|\\]$", "").trim();
                v = inner.isEmpty() ? List.of() : List.of(inner.split("\\s*,\\s*|\\s+"));
            }
            if (v == null) {
                return List.of();
            }
            if (v instanceof List<?> list) {
                return list.stream().map(e -> {
                    if (e instanceof Number n) {
                        return n.doubleValue();
                    }
                    try {
                        return Double.parseDouble(String.valueOf(e).trim());
                    } catch (NumberFormatException x) {
                        throw new io.diffuse.api.DiffuseException("invalid configuration diffuse.cache." + key + ": '" + e
                                + "' is not a number");
                    }
                }).toList();
            }
            throw new io.diffuse.api.DiffuseException("invalid configuration diffuse.cache." + key + " = '" + v
                    + "': expected a list of numbers, e.g. [1.0, 1.02, 0.98]");
        }

        /** A boolean setting relative to {@code diffuse.cache}, or {@code fallback} when absent. */
        public boolean flag(String key, boolean fallback) {
            Object v = settings.get(key);
            if (v == null) {
                return fallback;
            }
            if (v instanceof Boolean b) {
                return b;
            }
            String s = v.toString().trim();
            if (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false")) {
                return Boolean.parseBoolean(s);
            }
            throw new io.diffuse.api.DiffuseException("invalid configuration diffuse.cache." + key + " = '" + v
                    + "': expected true or false");
        }
    }

    /** "No caching": every forward runs every block. */
    static StepCachePolicy none() {
        return NoStepCache.POLICY;
    }
}
