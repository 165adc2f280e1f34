package io.diffuse.core.serve;

import com.typesafe.config.Config;
import io.diffuse.core.config.ConfigException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code diffuse.serve.*} read once into types; every bad value is a one-line error naming its path.
 *
 * @param outputDir where job outputs are written (never a client-chosen path)
 * @param apiKey the bearer token clients must send; empty = none
 * @param maxRestarts how often the launcher restarts the ranks after a rank failed (0 = exit non-zero)
 * @param adminKey the bearer token of the admin endpoints (/admin/*); empty = the API key rule, on loopback only
 */
public record ServeSettings(String host, int port, String apiKey, Path outputDir, int maxQueue, Duration requestTimeout,
        Duration jobTtl, long diskBudget, long maxBodyBytes, int maxPromptChars, long maxImagePixels, int maxFrames,
        int maxSteps, Duration drainTimeout, Duration faultLinger, boolean writeTensors, int maxRestarts, String adminKey) {

    /** The configuration prefix. */
    public static final String PREFIX = "diffuse.serve";

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
                s.getString("admin-key").trim());
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
