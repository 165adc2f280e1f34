package io.diffuse.core.serve;

import com.typesafe.config.Config;
import io.diffuse.core.config.ConfigException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code diffuse.serve.*} read once into types; every bad value is a one-line error naming its path.
 *
 * @param outputDir where job outputs are written (never a client-chosen path)
 * @param apiKey the bearer token clients must send; empty = none
 * @param maxRestarts how often the launcher restarts the ranks after a rank failed (0 = exit non-zero)
 * @param adminKey the bearer token of the admin endpoints (/admin/*); empty = the API key rule, on loopback only
 * @param apiKeys every API key clients may send ({@code api-key} and {@code api-keys} together); empty = none
 * @param allowedHosts host names (the Host header) the server answers to besides IP addresses, localhost and host
 * @param corsOrigins web origins whose pages may call the API from a browser (CORS); "*" = any
 * @param memoryBudget the most memory one job may need per rank (its estimate), in bytes; {@link #AUTO_BUDGET} = what
 *        every rank has free after loading the model, less a margin; 0 = no memory admission
 * @param maxVideoPixels the most width x height x frames a job may ask for (0 = no limit)
 */
public record ServeSettings(String host, int port, String apiKey, Path outputDir, int maxQueue, Duration requestTimeout,
        Duration jobTtl, long diskBudget, long maxBodyBytes, int maxPromptChars, long maxImagePixels, int maxFrames,
        int maxSteps, Duration drainTimeout, Duration faultLinger, boolean writeTensors, int maxRestarts, String adminKey,
        List<String> apiKeys, List<String> allowedHosts, List<String> corsOrigins,
        long memoryBudget, long maxVideoPixels) {

    /** The configuration prefix. */
    public static final String PREFIX = "diffuse.serve";
    /** {@link #memoryBudget}: derived from each rank's free memory ({@code memory-budget = auto}). */
    public static final long AUTO_BUDGET = -1;

    /** Reads {@code diffuse.serve}; {@code DIFFUSE_API_KEY}-style fallbacks are the configuration's environment layer. */
    public static ServeSettings from(Config config) {
        Config s = config.getConfig(PREFIX);
        int port = s.getInt("port");
        if (port < 0 || port > 65535) {
            throw new ConfigException(PREFIX + ".port", port, "must be between 0 and 65535 (0 = any free port)");
        }
        String dir = s.getString("output-dir").trim();
        Path out = dir.isEmpty() ? defaultOutputDir(System.getenv(), System.getProperty("user.home")) : Path.of(dir);
        int maxQueue = s.getInt("max-queue");
        if (maxQueue < 0) {
            throw new ConfigException(PREFIX + ".max-queue", maxQueue, "must be 0 or more");
        }
        return new ServeSettings(s.getString("host").trim(), port, s.getString("api-key").trim(),
                out.toAbsolutePath().normalize(), maxQueue, positive(s, "request-timeout"), positive(s, "job-ttl"),
                s.getBytes("disk-budget"), s.getBytes("max-body-bytes"), s.getInt("max-prompt-chars"),
                s.getLong("max-image-pixels"), s.getInt("max-frames"), s.getInt("max-steps"), positive(s, "drain-timeout"),
                s.getDuration("fault-linger"), s.getBoolean("write-tensors"), maxRestarts(s),
                s.getString("admin-key").trim(), apiKeys(s), strings(s, "allowed-hosts"), strings(s, "cors-origins"),
                memoryBudget(s), nonNegative(s, "max-video-pixels"));
    }

    /** {@code api-key} (one key, as before) and {@code api-keys} (several), without blanks or repeats. */
    private static List<String> apiKeys(Config s) {
        Set<String> keys = new LinkedHashSet<>();
        String one = s.getString("api-key").trim();
        if (!one.isEmpty()) {
            keys.add(one);
        }
        keys.addAll(strings(s, "api-keys"));
        return List.copyOf(keys);
    }

    /** A list key ("a,b" from a flag or the environment is the list [a, b]), without blanks or repeats. */
    private static List<String> strings(Config s, String key) {
        return s.getStringList(key).stream().map(String::trim).filter(v -> !v.isEmpty()).distinct().toList();
    }

    private static long memoryBudget(Config s) {
        if (s.getString("memory-budget").trim().equalsIgnoreCase("auto")) {
            return AUTO_BUDGET;
        }
        try {
            long bytes = s.getBytes("memory-budget");
            if (bytes >= 0) {
                return bytes;
            }
        } catch (com.typesafe.config.ConfigException e) {
            // reported below
        }
        throw new ConfigException(PREFIX + ".memory-budget", s.getString("memory-budget"),
                "must be auto, a size such as 8GiB, or 0 (no memory admission)");
    }

    private static long nonNegative(Config s, String key) {
        long n = s.getLong(key);
        if (n < 0) {
            throw new ConfigException(PREFIX + "." + key, n, "must be 0 (no limit) or more");
        }
        return n;
    }

    /**
     * The output folder when none is configured: this user's own, as the XDG base directories put
     * application data ({@code $XDG_DATA_HOME/diffuse/serve}, else {@code ~/.local/share/diffuse/serve}),
     * so users of one host neither share nor read each other's jobs and uploads. Without a home folder:
     * {@code java.io.tmpdir/diffuse-serve-<user name>}.
     */
    static Path defaultOutputDir(java.util.Map<String, String> env, String userHome) {
        String data = env.getOrDefault("XDG_DATA_HOME", "").trim();
        if (!data.isEmpty() && Path.of(data).isAbsolute()) { // the spec: a relative value is to be ignored
            return Path.of(data, "diffuse", "serve");
        }
        if (userHome != null && !userHome.isBlank() && !userHome.equals("?") && Path.of(userHome).isAbsolute()) {
            return Path.of(userHome, ".local", "share", "diffuse", "serve");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "diffuse-serve-" + System.getProperty("user.name", "user"));
    }

    private static int maxRestarts(Config s) {
        int n = s.getInt("max-restarts");
        if (n < 0) {
            throw new ConfigException(PREFIX + ".max-restarts", n, "must be 0 or more (0 = exit non-zero when a rank fails)");
        }
        return n;
    }

    private static Duration positive(Config s, String key) {
        Duration d = s.getDuration(key);
        if (d.isNegative() || d.isZero()) {
            throw new ConfigException(PREFIX + "." + key, s.getString(key), "must be a positive duration, e.g. 30s");
        }
        return d;
    }
}
