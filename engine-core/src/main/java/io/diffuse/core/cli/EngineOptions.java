package io.diffuse.core.cli;

import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.LayeredConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Options every engine command shares: the configuration file, generic overrides, and the flags
 * that map onto configuration keys (the same keys HOCON and ConfigAdmin use).
 */
public class EngineOptions {
    /**
     * System property naming the configuration file used when --config is not given; bin/diffuse
     * points it at conf/diffuse.conf. (Outside the {@code diffuse.} namespace, which holds config keys.)
     */
    public static final String DEFAULT_CONFIG_PROPERTY = "io.diffuse.config";

    @Option(names = "--config", paramLabel = "FILE",
            description = "HOCON configuration file (overrides the defaults; default: conf/diffuse.conf of the installation).")
    Path configFile;

    @Option(names = {"-C", "--set"}, paramLabel = "KEY=VALUE",
            description = "Set any configuration key, e.g. -C diffuse.dist.timeout=30s (repeatable).")
    Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--device", description = "cpu or cuda (diffuse.device).")
    String device;

    @Option(names = "--dtype", description = "fp32, bf16 or fp16 (diffuse.dtype).")
    String dtype;

    @Option(names = "--threads", paramLabel = "T",
            description = "Intra-op (libtorch) threads per rank; 0 = libtorch default, one per core (diffuse.threads).")
    Integer threads;

    @Option(names = "--timeout", paramLabel = "DURATION", description = "Collective and rendezvous timeout, e.g. 60s (diffuse.dist.timeout).")
    String timeout;

    /** Flags a command adds to these (e.g. generate's diffuse.generate.* flags). */
    java.util.function.Consumer<Map<String, Object>> extraFlags = f -> { };

    /** Configuration keys set by the flags of this command (subclasses add theirs). */
    protected Map<String, Object> flags() {
        Map<String, Object> f = new LinkedHashMap<>();
        extraFlags.accept(f);
        set.forEach((k, v) -> f.put(k.startsWith("diffuse.") ? k : "diffuse." + k, v));
        put(f, "diffuse.device", device);
        put(f, "diffuse.dtype", dtype);
        put(f, "diffuse.threads", threads);
        put(f, "diffuse.dist.timeout", timeout);
        return f;
    }

    /** The --config file, else the installation's default file if it exists, else null. */
    protected Path configFile() {
        if (configFile != null) {
            return configFile;
        }
        String fallback = System.getProperty(DEFAULT_CONFIG_PROPERTY);
        if (fallback == null || fallback.isBlank() || !java.nio.file.Files.isRegularFile(Path.of(fallback))) {
            return null;
        }
        return Path.of(fallback);
    }

    protected static void put(Map<String, Object> flags, String key, Object value) {
        if (value != null) {
            flags.put(key, value);
        }
    }

    /**
     * The configuration in {@code env}, the one path every command takes: flags, system properties,
     * environment, managed configuration (ConfigAdmin, {@code deploy/*.cfg}), file, references;
     * unknown keys and wrong types already rejected.
     */
    public LayeredConfig layers(CliEnvironment env) {
        return ConfigLoader.layers(configFile(), flags(), env.managedConfiguration().get(), env.registry().classLoaders());
    }
}
