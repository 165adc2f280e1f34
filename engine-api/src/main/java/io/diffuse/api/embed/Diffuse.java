package io.diffuse.api.embed;

import io.diffuse.api.DiffuseException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The embedding entry point: build an engine from configuration and generate videos from plain Java.
 *
 * <pre>{@code
 * try (DiffuseEngine engine = Diffuse.builder().set("diffuse.generate.model", "builtin:demo").build()) {
 *     VideoResult result = engine.generate(VideoRequest.builder().prompt("a red fox").output(Path.of("fox.mp4")).build());
 * }
 * }</pre>
 *
 * <p>The engine is found on the class path ({@link EngineFactory} through {@link ServiceLoader}; the
 * {@code io.diffuse:diffuse-runtime} dependency brings it with the shipped plugins). Configuration
 * takes the same layers and keys as the command line: {@link Builder#set} plays the part of flags,
 * then {@code -Ddiffuse.*} system properties, {@code DIFFUSE_*} environment variables, the
 * {@link Builder#config} file and every bundle's reference.conf. In a process started by torchrun (or by
 * {@link #launchLocalRanks}), the engine joins that world (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)
 * and every rank must make the same calls.
 */
public final class Diffuse {
    private Diffuse() {
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs {@code mainClass} in {@code nproc} local JVMs (this JVM's java and class path) as the ranks
     * of one world, with the torchrun variables set, and waits for them: the ranks' output is prefixed
     * with their rank, a dying rank stops the others. Call it from a process that is not itself a rank
     * ({@code System.getenv("RANK") == null}).
     *
     * @return rank 0's exit code (non-zero when any rank failed)
     */
    public static int launchLocalRanks(int nproc, Class<?> mainClass, String... args) {
        return factory().launchLocalRanks(nproc, mainClass.getName(), List.of(args));
    }

    /** Whether this process is a rank started by torchrun or {@link #launchLocalRanks}. */
    public static boolean isRank() {
        return System.getenv("RANK") != null;
    }

    static EngineFactory factory() {
        ClassLoader loader = Optional.ofNullable(Thread.currentThread().getContextClassLoader())
                .orElse(Diffuse.class.getClassLoader());
        return ServiceLoader.load(EngineFactory.class, loader).findFirst()
                .or(() -> ServiceLoader.load(EngineFactory.class, Diffuse.class.getClassLoader()).findFirst())
                .orElseThrow(() -> new DiffuseException("no Diffuse engine on the class path; add the dependency"
                        + " io.diffuse:diffuse-runtime (type pom, scope runtime)"));
    }

    /** What an engine is built from. */
    public static final class Builder {
        private Path configFile;
        private final Map<String, Object> settings = new LinkedHashMap<>();
        private Map<String, String> environment = System.getenv();

        private Builder() {
        }

        /** A HOCON configuration file (as {@code --config}). */
        public Builder config(Path file) {
            this.configFile = file;
            return this;
        }

        /** One configuration key, e.g. {@code set("diffuse.parallel.strategy", "ring")}; highest precedence. */
        public Builder set(String key, Object value) {
            settings.put(key.startsWith("diffuse.") ? key : "diffuse." + key, value);
            return this;
        }

        /** Several configuration keys. */
        public Builder settings(Map<String, ?> values) {
            values.forEach(this::set);
            return this;
        }

        /** The process environment to read (DIFFUSE_* keys, torchrun variables); default {@link System#getenv()}. */
        public Builder environment(Map<String, String> env) {
            this.environment = Map.copyOf(env);
            return this;
        }

        /**
         * Builds the configuration, checks it, joins the world (when this process is a rank) and loads
         * the model ({@code diffuse.generate.model}) on this rank.
         *
         * @throws DiffuseException one line naming what is wrong
         */
        public DiffuseEngine build() {
            return factory().create(new EngineFactory.Spec(Optional.ofNullable(configFile), Map.copyOf(settings), environment));
        }
    }
}
