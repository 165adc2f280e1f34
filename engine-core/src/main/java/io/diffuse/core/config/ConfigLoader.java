package io.diffuse.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import io.diffuse.api.DiffuseException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Builds the effective configuration. Precedence, highest first: CLI flags, {@code -Ddiffuse.*}
 * system properties, {@code DIFFUSE_*} environment variables, managed configuration (inside OSGi:
 * the ConfigAdmin configuration {@code io.diffuse.engine}, also fed by a {@code .cfg} file in
 * {@code deploy/}), the user's file ({@code --config}), then every bundle's {@code reference.conf}
 * (engine-core's and each plugin's, read through the bundle's own class loader so it works inside
 * OSGi).
 */
public final class ConfigLoader {
    /** Environment variables with this prefix override configuration. */
    public static final String ENV_PREFIX = "DIFFUSE_";

    private ConfigLoader() {
    }

    /**
     * Loads and resolves the configuration.
     *
     * @param userFile the --config file, or null
     * @param flags CLI overrides by full config path (e.g. diffuse.parallel.ulysses -> "2")
     * @param managed managed configuration by full config path (ConfigAdmin properties); may be empty
     * @param env the process environment
     * @param systemProperties the JVM's system properties
     * @param referenceLoaders class loaders whose reference.conf files supply defaults
     */
    public static Config load(Path userFile, Map<String, ?> flags, Map<String, ?> managed, Map<String, String> env,
            Properties systemProperties, List<ClassLoader> referenceLoaders) {
        return layers(userFile, flags, managed, env, systemProperties, referenceLoaders).effective();
    }

    /**
     * The user's layers, checked against the references (unknown keys, types; see
     * {@link LayeredConfig}), kept apart from the defaults. Every command, the server and the Java API
     * build their configuration here.
     */
    public static LayeredConfig layers(Path userFile, Map<String, ?> flags, Map<String, ?> managed, Map<String, String> env,
            Properties systemProperties, List<ClassLoader> referenceLoaders) {
        Config reference = ConfigFactory.parseResources(ConfigLoader.class.getClassLoader(), "reference.conf");
        for (ClassLoader loader : referenceLoaders) {
            reference = reference.withFallback(ConfigFactory.parseResources(loader, "reference.conf"));
        }
        Config file = ConfigFactory.empty();
        if (userFile != null) {
            if (!Files.isRegularFile(userFile)) {
                throw new DiffuseException("configuration file " + userFile + " (--config) does not exist or is not a file");
            }
            try {
                file = ConfigFactory.parseFile(userFile.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
            } catch (com.typesafe.config.ConfigException e) {
                throw new DiffuseException("cannot parse configuration file " + userFile + ": " + oneLine(e), e);
            }
        }
        Config user = fromFlags(flags)
                .withFallback(fromSystemProperties(systemProperties))
                .withFallback(fromEnvironment(env))
                .withFallback(fromManaged(managed))
                .withFallback(file);
        try {
            reference = reference.resolve();
            user = user.resolveWith(user.withFallback(reference));
        } catch (com.typesafe.config.ConfigException e) {
            throw new DiffuseException("cannot resolve configuration: " + oneLine(e), e);
        }
        return LayeredConfig.of(LayeredConfig.checkAgainst(user, reference), reference);
    }

    /** The layers with the real environment and system properties. */
    public static LayeredConfig layers(Path userFile, Map<String, ?> flags, Map<String, ?> managed,
            List<ClassLoader> referenceLoaders) {
        return layers(userFile, flags, managed, System.getenv(), System.getProperties(), referenceLoaders);
    }

    private static String oneLine(Exception e) {
        return String.valueOf(e.getMessage()).replace('\n', ' ');
    }

    /** Loads with no managed configuration (see the full overload for the layers). */
    public static Config load(Path userFile, Map<String, ?> flags, Map<String, String> env,
            Properties systemProperties, List<ClassLoader> referenceLoaders) {
        return load(userFile, flags, Map.of(), env, systemProperties, referenceLoaders);
    }

    /** Loads with the real environment and system properties. */
    public static Config load(Path userFile, Map<String, ?> flags, List<ClassLoader> referenceLoaders) {
        return load(userFile, flags, Map.of(), System.getenv(), System.getProperties(), referenceLoaders);
    }

    /** Loads with the real environment and system properties, plus managed (ConfigAdmin) configuration. */
    public static Config load(Path userFile, Map<String, ?> flags, Map<String, ?> managed,
            List<ClassLoader> referenceLoaders) {
        return load(userFile, flags, managed, System.getenv(), System.getProperties(), referenceLoaders);
    }

    /** The property in which FileInstall names the {@code .cfg} file a managed configuration came from. */
    public static final String MANAGED_SOURCE = "felix.fileinstall.filename";

    /** Where managed configuration came from: its {@code deploy/} file when known, else ConfigAdmin. */
    public static String managedSource(Map<String, ?> managed) {
        Object file = managed.get(MANAGED_SOURCE);
        if (file == null) {
            return "ConfigAdmin configuration io.diffuse.engine";
        }
        String s = String.valueOf(file);
        try {
            return s.startsWith("file:") ? Path.of(java.net.URI.create(s)).toString() : s;
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            return s;
        }
    }

    /** The {@code diffuse.*} keys of managed configuration, in order, without ConfigAdmin's own. */
    public static Map<String, Object> managedKeys(Map<String, ?> managed) {
        Map<String, Object> keys = new java.util.TreeMap<>();
        managed.forEach((k, v) -> {
            if (k.startsWith("diffuse.") && v != null) {
                keys.put(k, v);
            }
        });
        return keys;
    }

    /** Keeps the {@code diffuse.*} keys of managed configuration; ConfigAdmin's own keys (service.pid...) are dropped. */
    static Config fromManaged(Map<String, ?> managed) {
        Map<String, Object> selected = new LinkedHashMap<>();
        managed.forEach((k, v) -> {
            if (k.startsWith("diffuse.") && v != null) {
                selected.put(k, v instanceof String || v instanceof Number || v instanceof Boolean ? v : String.valueOf(v));
            }
        });
        return fromPaths(selected, managed.containsKey(MANAGED_SOURCE) ? managedSource(managed) : "managed configuration");
    }

    static Config fromFlags(Map<String, ?> flags) {
        Config c = ConfigFactory.empty("command-line flags");
        for (Map.Entry<String, ?> e : flags.entrySet()) {
            if (e.getValue() != null) {
                c = c.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue(), "command-line flag"));
            }
        }
        return c;
    }

    static Config fromSystemProperties(Properties props) {
        Map<String, Object> selected = new LinkedHashMap<>();
        for (String name : props.stringPropertyNames()) {
            if (name.startsWith("diffuse.")) {
                selected.put(name, props.getProperty(name));
            }
        }
        return fromPaths(selected, "system property");
    }

    /** DIFFUSE_VAE_TILE__SIZE=128 becomes diffuse.vae.tile-size = 128. */
    static Config fromEnvironment(Map<String, String> env) {
        Config c = ConfigFactory.empty("environment variables");
        for (Map.Entry<String, String> e : new java.util.TreeMap<>(env).entrySet()) {
            String name = e.getKey();
            if (name.startsWith(ENV_PREFIX) && name.length() > ENV_PREFIX.length()) {
                String path = "diffuse." + name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT)
                        .replace("__", "\u0000").replace('_', '.').replace('\u0000', '-');
                try {
                    c = c.withValue(path, ConfigValueFactory.fromAnyRef(e.getValue(), "environment variable " + name));
                } catch (com.typesafe.config.ConfigException bad) {
                    throw new DiffuseException("invalid environment variable " + name + ": " + oneLine(bad), bad);
                }
            }
        }
        return c;
    }

    private static Config fromPaths(Map<String, Object> values, String origin) {
        Config c = ConfigFactory.empty(origin);
        for (Map.Entry<String, Object> e : values.entrySet()) {
            try {
                c = c.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue(), origin + " " + e.getKey()));
            } catch (com.typesafe.config.ConfigException bad) {
                throw new DiffuseException("invalid " + origin + " " + e.getKey() + ": " + oneLine(bad), bad);
            }
        }
        return c;
    }
}
