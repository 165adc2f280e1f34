package io.diffuse.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import io.diffuse.api.DiffuseException;

/**
 * The configuration as the user gave it (flags, system properties, environment, managed
 * configuration, the --config file; already merged by precedence), kept apart from the defaults
 * (every bundle's reference.conf, and built-in defaults a model declares), so that a default which
 * depends on other settings fills only what the user left unset.
 *
 * <p>Built by {@link ConfigLoader}, which checks the user's keys once: every key under
 * {@code diffuse.} must be declared by some bundle's reference.conf (else a one-line error with the
 * nearest known key), and every value is converted to the type of its declared default (a number
 * given as the string "2" by {@code -C}, the environment or a {@code .cfg} file becomes the number 2;
 * "banana" for a number is a one-line error naming the path and where the value came from).
 */
public final class LayeredConfig {
    private final Config user;
    private final Config defaults;
    private final Config reference;

    LayeredConfig(Config user, Config defaults, Config reference) {
        this.user = user;
        this.defaults = defaults;
        this.reference = reference;
    }

    /** What the user set, resolved and typed; no defaults. */
    public Config user() {
        return user;
    }

    /** The merged reference.conf files of every installed bundle. */
    public Config reference() {
        return reference;
    }

    /** Whether the user set {@code path} (or anything under it) in any layer above the defaults. */
    public boolean isSet(String path) {
        return user.hasPathOrNull(path);
    }

    /** Whether the user set {@code path} or an added default (not the references) gives it. */
    public boolean isSetOrDefaulted(String path) {
        return user.hasPathOrNull(path) || defaults.hasPathOrNull(path);
    }

    /** Whether the user set any of {@code paths}. */
    public boolean isAnySet(Collection<String> paths) {
        return paths.stream().anyMatch(this::isSet);
    }

    /**
     * Adds built-in defaults (for example a built-in model's plan) between the user's layers and the
     * references: each group applies as a whole, and only when the user set none of its keys, so a
     * group of defaults that belong together (nproc and its degrees) is never half applied.
     *
     * @param groups each a map of full config paths to values; keys must be known configuration keys
     * @param origin described in {@code info --config-dump}, e.g. "built-in model demo"
     */
    public LayeredConfig withDefaultGroups(List<? extends Map<String, ?>> groups, String origin) {
        Config added = defaults;
        for (Map<String, ?> group : groups) {
            if (isAnySet(group.keySet())) {
                continue;
            }
            for (Map.Entry<String, ?> e : group.entrySet()) {
                if (!added.hasPath(e.getKey())) {
                    added = added.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue(), origin));
                }
            }
        }
        return new LayeredConfig(user, added, reference);
    }

    /** Adds one default value below the user's layers (and below earlier added defaults). */
    public LayeredConfig withDefault(String path, Object value, String origin) {
        if (isSet(path) || defaults.hasPath(path)) {
            return this;
        }
        return new LayeredConfig(user, defaults.withValue(path, ConfigValueFactory.fromAnyRef(value, origin)), reference);
    }

    /** The effective configuration: user layers, then added defaults, then the references. */
    public Config effective() {
        return user.withFallback(defaults).withFallback(reference);
    }

    /** Checks and types the user's layer against the references (see the class comment). */
    static Config checkAgainst(Config user, Config reference) {
        Config typed = user;
        Set<String> known = null;
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            String path = e.getKey();
            if (!path.startsWith("diffuse.")) {
                continue; // other tools' keys in a shared file are not ours to judge
            }
            ConfigValue given = e.getValue();
            if (!reference.hasPathOrNull(path)) {
                String parent = parentDeclaredAsValue(path, reference);
                if (parent != null) {
                    throw new ConfigException(parent, "{...}", "expected a single "
                            + reference.getValue(parent).valueType().name().toLowerCase(Locale.ROOT) + " value, not settings below it ("
                            + path + ", from " + origin(given) + ")");
                }
                if (known == null) {
                    known = leafPaths(reference);
                }
                throw new UnknownKeyException(path, "unknown configuration key " + path + " (from " + origin(given)
                        + "); did you mean " + nearest(path, known) + "? (see `diffuse info --config-dump` for every key)");
            }
            if (!reference.hasPath(path)) {
                continue; // declared null: "unset by default", any value type
            }
            ConfigValue declared = reference.getValue(path);
            ConfigValue converted = convert(path, given, declared);
            if (converted != given) {
                typed = typed.withValue(path, converted);
            }
        }
        return typed;
    }

    private static String parentDeclaredAsValue(String path, Config reference) {
        String p = path;
        int dot;
        while ((dot = p.lastIndexOf('.')) > 0) {
            p = p.substring(0, dot);
            if (reference.hasPathOrNull(p)) {
                return !reference.hasPath(p) || reference.getValue(p).valueType() == ConfigValueType.OBJECT ? null : p;
            }
        }
        return null;
    }

    /** {@code given} with the type of {@code declared}, or a one-line error naming the path. */
    private static ConfigValue convert(String path, ConfigValue given, ConfigValue declared) {
        ConfigValueType want = declared.valueType();
        ConfigValueType have = given.valueType();
        if (want == have || have == ConfigValueType.NULL || want == ConfigValueType.NULL) {
            return given;
        }
        Object raw = given.unwrapped();
        String text = String.valueOf(raw).trim();
        switch (want) {
            case STRING -> {
                if (have == ConfigValueType.NUMBER || have == ConfigValueType.BOOLEAN) {
                    return ConfigValueFactory.fromAnyRef(text, given.origin().description());
                }
            }
            case NUMBER -> {
                if (have == ConfigValueType.STRING) {
                    boolean integral = declared.unwrapped() instanceof Integer || declared.unwrapped() instanceof Long;
                    try {
                        Object n = integral ? (Object) Long.parseLong(text) : (Object) Double.parseDouble(text);
                        if (n instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                            n = l.intValue();
                        }
                        return ConfigValueFactory.fromAnyRef(n, given.origin().description());
                    } catch (NumberFormatException e) {
                        throw new ConfigException(path, text, "expected " + (integral ? "an integer" : "a number")
                                + " (from " + origin(given) + ")");
                    }
                }
            }
            case BOOLEAN -> {
                if (have == ConfigValueType.STRING) {
                    switch (text.toLowerCase(Locale.ROOT)) {
                        case "true", "yes", "on" -> {
                            return ConfigValueFactory.fromAnyRef(true, given.origin().description());
                        }
                        case "false", "no", "off" -> {
                            return ConfigValueFactory.fromAnyRef(false, given.origin().description());
                        }
                        default -> throw new ConfigException(path, text, "expected true or false (from " + origin(given) + ")");
                    }
                }
            }
            case LIST -> {
                if (have == ConfigValueType.STRING && text.startsWith("[")) {
                    // "[1.0, 1.02]" from a flag or the environment: HOCON list syntax
                    try {
                        return com.typesafe.config.ConfigFactory.parseString("v = " + text).getValue("v");
                    } catch (com.typesafe.config.ConfigException e) {
                        throw new ConfigException(path, text, "expected a list such as [1.0, 1.02] (from " + origin(given) + ")");
                    }
                }
                if (have == ConfigValueType.STRING) {
                    // "a,b" from a flag or the environment is the list [a, b]
                    List<String> items = new ArrayList<>();
                    for (String s : text.split(",")) {
                        if (!s.isBlank()) {
                            items.add(s.trim());
                        }
                    }
                    return ConfigValueFactory.fromIterable(items, given.origin().description());
                }
            }
            default -> {
            }
        }
        throw new ConfigException(path, raw, "expected " + article(want) + ", got " + article(have) + " (from " + origin(given) + ")");
    }

    private static String article(ConfigValueType t) {
        return switch (t) {
            case OBJECT -> "an object of settings";
            case LIST -> "a list";
            case NUMBER -> "a number";
            case BOOLEAN -> "true or false";
            case STRING -> "a string";
            case NULL -> "null";
        };
    }

    static String origin(ConfigValue v) {
        return v.origin() == null ? "unknown origin" : v.origin().description();
    }

    /** Every leaf path of {@code config}. */
    static Set<String> leafPaths(Config config) {
        Set<String> paths = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : config.entrySet()) {
            paths.add(e.getKey());
        }
        return paths;
    }

    /** The known key closest to {@code path} by edit distance (ties: the first in order). */
    static String nearest(String path, Set<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(path, k);
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        return best;
    }

    /** Levenshtein distance. */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** Empty defaults. */
    static LayeredConfig of(Config user, Config reference) {
        return new LayeredConfig(user, ConfigFactory.empty("built-in defaults"), reference);
    }
}
