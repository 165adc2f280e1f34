package io.diffuse.api.config;

import io.diffuse.api.DiffuseException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A plugin's view of the engine's effective configuration below one path (e.g.
 * {@code diffuse.hunyuan15}), with typed getters: a value given as text ({@code -C}, the environment,
 * a {@code .cfg} file) or as a number reads the same, and a value of the wrong type or range is a
 * one-line {@link DiffuseException} naming its full path. Plugins check their keys with it in
 * {@code checkConfiguration} (before any rank starts) and read them with it when they load.
 */
public final class PluginSettings {
    private final String prefix;
    private final Map<String, Object> leaves;

    private PluginSettings(String prefix, Map<String, Object> leaves) {
        this.prefix = prefix;
        this.leaves = leaves;
    }

    /**
     * @param prefix the full path of this subtree, e.g. "diffuse.hunyuan15"
     * @param leaves every leaf below it, keyed by dotted path relative to it (as
     *        {@code RuntimeContext.configuration(prefix)} returns them)
     */
    public static PluginSettings of(String prefix, Map<String, ?> leaves) {
        return new PluginSettings(prefix, Collections.unmodifiableMap(new TreeMap<>(leaves)));
    }

    /** The full path of this subtree. */
    public String prefix() {
        return prefix;
    }

    /** The subtree below {@code relative} (e.g. "hunyuan15" of "diffuse"). */
    public PluginSettings at(String relative) {
        String p = relative + ".";
        Map<String, Object> sub = new TreeMap<>();
        leaves.forEach((k, v) -> {
            if (k.startsWith(p)) {
                sub.put(k.substring(p.length()), v);
            }
        });
        return new PluginSettings(prefix + "." + relative, Collections.unmodifiableMap(sub));
    }

    /** Whether {@code key} has a value. */
    public boolean has(String key) {
        return leaves.containsKey(key);
    }

    /** Every leaf, keyed by path relative to {@link #prefix()}. */
    public Map<String, Object> asMap() {
        return leaves;
    }

    /** A string value, or {@code fallback} when unset. */
    public String string(String key, String fallback) {
        Object v = leaves.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Map || v instanceof Iterable) {
            throw invalid(key, v, "expected a single value");
        }
        return String.valueOf(v);
    }

    /** A path; empty when unset or "". */
    public Optional<Path> path(String key) {
        String s = string(key, "").trim();
        return s.isEmpty() ? Optional.empty() : Optional.of(Path.of(s));
    }

    /** An integer (a Number or integral text), or {@code fallback} when unset. */
    public int integer(String key, int fallback) {
        Object v = leaves.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                && n.longValue() >= Integer.MIN_VALUE && n.longValue() <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        try {
            return Integer.parseInt(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw invalid(key, v, "expected an integer");
        }
    }

    /** An integer in {@code [min, max]}, or {@code fallback} when unset. */
    public int integer(String key, int fallback, int min, int max) {
        int v = integer(key, fallback);
        if (v < min || v > max) {
            throw invalid(key, v, "allowed: " + min + ".." + max);
        }
        return v;
    }

    /** A number (a Number or numeric text), or {@code fallback} when unset. */
    public double number(String key, double fallback) {
        Object v = leaves.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw invalid(key, v, "expected a number");
        }
    }

    /** true/false (also yes/no, on/off as text), or {@code fallback} when unset. */
    public boolean bool(String key, boolean fallback) {
        Object v = leaves.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        switch (String.valueOf(v).trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "yes", "on" -> {
                return true;
            }
            case "false", "no", "off" -> {
                return false;
            }
            default -> throw invalid(key, v, "expected true or false");
        }
    }

    /** The one-line error for a bad value of {@code key}: "invalid configuration PATH = VALUE: allowed". */
    public DiffuseException invalid(String key, Object value, String allowed) {
        String shown = value instanceof String s ? "'" + s + "'" : String.valueOf(value);
        return new DiffuseException("invalid configuration " + prefix + "." + key + " = " + shown + ": " + allowed);
    }
}
