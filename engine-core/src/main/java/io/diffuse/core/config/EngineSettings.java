package io.diffuse.core.config;

import com.typesafe.config.Config;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The engine's configuration ({@code diffuse.*}), read with typed getters and validated as a whole.
 * Every invalid value fails here, before any rank starts work, with a {@link ConfigException}
 * naming the path, the value and what is allowed. Names of strategies and executors are checked
 * against what is installed by the registry lookup.
 */
public record EngineSettings(
        String device,
        DType dtype,
        int threads,
        Parallel parallel,
        Vae vae,
        Dist dist,
        Attention attention,
        Linear linear,
        Config config) {

    /** {@code diffuse.parallel}. */
    public record Parallel(int nproc, String strategy, int ulysses, int ring, int cfg, int vae) {
        /** The rank layout. */
        public ParallelPlan plan() {
            return new ParallelPlan(nproc, ulysses, ring, cfg, vae);
        }
    }

    /** {@code diffuse.vae}. */
    public record Vae(String executor, boolean tiling, int tileSize, double tileOverlap, boolean resultOnAllRanks) {
        /** As the API value type. */
        public TilingSettings tilingSettings() {
            return new TilingSettings(tiling, tileSize, tileOverlap);
        }
    }

    /** {@code diffuse.attention}: which libtorch SDPA backend every attention call may use. */
    public record Attention(String backend) {
        /** The values of {@code diffuse.attention.backend}. */
        public static final List<String> BACKENDS = List.of("auto", "flash", "efficient", "cudnn", "math");
        /** The backends that run only on CUDA. */
        public static final List<String> CUDA_ONLY = List.of("efficient", "cudnn");
    }

    /** {@code diffuse.linear}: which GEMM fp32 CPU linear layers use. */
    public record Linear(String backend) {
        /** The values of {@code diffuse.linear.backend}. */
        public static final List<String> BACKENDS = List.of("onednn", "blas");
    }

    /** {@code diffuse.dist}. */
    public record Dist(String backend, String masterAddr, int masterPort, Duration timeout) {
    }

    /**
     * The leaves of the configuration under {@code path}, keyed by their dotted path relative to it,
     * with plain values; empty when the path is absent. Backs {@code RuntimeContext.configuration}.
     *
     * @throws ConfigException when {@code path} holds a value rather than an object
     */
    public java.util.Map<String, Object> subtree(String path) {
        if (!config.hasPath(path)) {
            return java.util.Map.of();
        }
        if (config.getValue(path).valueType() != com.typesafe.config.ConfigValueType.OBJECT) {
            throw new ConfigException(path, config.getValue(path).unwrapped(), "expected an object of settings");
        }
        java.util.Map<String, Object> leaves = new java.util.TreeMap<>();
        for (java.util.Map.Entry<String, com.typesafe.config.ConfigValue> e : config.getConfig(path).entrySet()) {
            leaves.put(e.getKey(), e.getValue().unwrapped());
        }
        return java.util.Collections.unmodifiableMap(leaves);
    }

    /** Reads and validates {@code config}. */
    public static EngineSettings from(Config config) {
        Typed c = new Typed(config);
        String device = c.string("diffuse.device").toLowerCase(Locale.ROOT);
        if (!device.equals("cpu") && !device.matches("cuda(:\\d+)?")) {
            throw new ConfigException("diffuse.device", device, "allowed: cpu, cuda, cuda:<index>");
        }
        DType dtype;
        try {
            dtype = DType.parse(c.string("diffuse.dtype"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("diffuse.dtype", c.string("diffuse.dtype"), "allowed: fp32, bf16, fp16");
        }
        int threads = c.integer("diffuse.threads");
        if (threads < 0) {
            throw new ConfigException("diffuse.threads", threads,
                    "allowed: 0 (libtorch default, one per core) or a positive intra-op thread count per rank");
        }

        int nproc = c.positiveInt("diffuse.parallel.nproc");
        int ulysses = c.positiveInt("diffuse.parallel.ulysses");
        int ring = c.positiveInt("diffuse.parallel.ring");
        int cfg = c.positiveInt("diffuse.parallel.cfg");
        if (cfg > 2) {
            throw new ConfigException("diffuse.parallel.cfg", cfg, "allowed: 1 or 2 (conditional and unconditional passes)");
        }
        if (ulysses * ring * cfg != nproc) {
            throw new ConfigException("diffuse.parallel", "ulysses " + ulysses + " x ring " + ring + " x cfg " + cfg
                    + " = " + (ulysses * ring * cfg), "must equal the rank count diffuse.parallel.nproc = " + nproc
                    + "; give --nproc " + (ulysses * ring * cfg) + " for this layout, or degrees whose product is " + nproc
                    + setBy(config, "diffuse.parallel.nproc", "diffuse.parallel.ulysses", "diffuse.parallel.ring",
                            "diffuse.parallel.cfg"));
        }
        int vaeRanks = c.integer("diffuse.parallel.vae");
        if (vaeRanks < 0 || vaeRanks > nproc) {
            throw new ConfigException("diffuse.parallel.vae", vaeRanks,
                    "allowed: 0 (all ranks) or 1.." + nproc + " (at most diffuse.parallel.nproc)");
        }
        if (vaeRanks == 0) {
            vaeRanks = nproc;
        }
        String strategy = c.name("diffuse.parallel.strategy");
        if (strategy.equals("auto")) {
            strategy = ulysses > 1 && ring > 1 ? "usp" : ulysses > 1 ? "ulysses" : ring > 1 ? "ring" : "local";
        } else {
            checkStrategyDegrees(strategy, ulysses, ring);
        }

        boolean tiling = c.bool("diffuse.vae.tiling");
        int tileSize = c.positiveInt("diffuse.vae.tile-size");
        double overlap = c.dbl("diffuse.vae.tile-overlap");
        if (!(overlap >= 0 && overlap < 1)) {
            throw new ConfigException("diffuse.vae.tile-overlap", overlap, "allowed: a factor in [0, 1)");
        }
        String executor = c.name("diffuse.vae.executor");
        if (executor.equals("auto")) {
            executor = vaeRanks > 1 ? "patch-parallel" : tiling ? "tiled" : "local";
        }
        if (vaeRanks > 1 && (executor.equals("local") || executor.equals("tiled"))) {
            throw new ConfigException("diffuse.vae.executor", executor, "runs on one rank but diffuse.parallel.vae = "
                    + vaeRanks + "; use patch-parallel, or set diffuse.parallel.vae = 1");
        }
        boolean allRanks = c.bool("diffuse.vae.result-on-all-ranks");

        String backend = c.name("diffuse.dist.backend");
        if (!List.of("auto", "gloo", "nccl").contains(backend)) {
            throw new ConfigException("diffuse.dist.backend", backend, "allowed: auto, gloo, nccl");
        }
        if (backend.equals("auto")) {
            backend = device.startsWith("cuda") ? "nccl" : "gloo";
        }
        if (backend.equals("nccl") && device.equals("cpu")) {
            throw new ConfigException("diffuse.dist.backend", backend, "NCCL needs diffuse.device = cuda; use gloo on cpu");
        }
        String addr = c.string("diffuse.dist.master-addr");
        if (addr.isBlank()) {
            throw new ConfigException("diffuse.dist.master-addr", addr, "a host name or IP address");
        }
        int port = c.integer("diffuse.dist.master-port");
        if (port < 0 || port > 65535) {
            throw new ConfigException("diffuse.dist.master-port", port, "allowed: 0 (pick a free port) or 1..65535");
        }
        Duration timeout = c.positiveDuration("diffuse.dist.timeout");

        String attention = c.name("diffuse.attention.backend");
        if (!Attention.BACKENDS.contains(attention)) {
            throw new ConfigException("diffuse.attention.backend", attention, "allowed: " + String.join(", ", Attention.BACKENDS));
        }
        if (Attention.CUDA_ONLY.contains(attention) && device.equals("cpu")) {
            throw new ConfigException("diffuse.attention.backend", attention,
                    "runs only on CUDA (diffuse.device = cpu); on cpu use auto, flash or math");
        }

        String linear = c.name("diffuse.linear.backend");
        if (!Linear.BACKENDS.contains(linear)) {
            throw new ConfigException("diffuse.linear.backend", linear, "allowed: " + String.join(", ", Linear.BACKENDS));
        }

        return new EngineSettings(device, dtype, threads,
                new Parallel(nproc, strategy, ulysses, ring, cfg, vaeRanks),
                new Vae(executor, tiling, tileSize, overlap, allRanks),
                new Dist(backend, addr, port, timeout), new Attention(attention),
                new Linear(linear), config);
    }

    private static void checkStrategyDegrees(String strategy, int ulysses, int ring) {
        switch (strategy) {
            case "local" -> {
                if (ulysses * ring != 1) {
                    throw new ConfigException("diffuse.parallel.strategy", strategy, "runs on one rank but ulysses x ring = "
                            + ulysses * ring + "; use auto, ulysses, ring or usp");
                }
            }
            case "ulysses" -> {
                if (ring != 1) {
                    throw new ConfigException("diffuse.parallel.strategy", strategy,
                            "needs diffuse.parallel.ring = 1 (got " + ring + "); use usp for ulysses x ring");
                }
            }
            case "ring" -> {
                if (ulysses != 1) {
                    throw new ConfigException("diffuse.parallel.strategy", strategy,
                            "needs diffuse.parallel.ulysses = 1 (got " + ulysses + "); use usp for ulysses x ring");
                }
            }
            default -> {
                // Other strategies (usp, third-party) take any degrees and validate them themselves.
            }
        }
    }

    /** Typed getters that turn Typesafe's exceptions into one-line errors with the path. */
    /**
     * Where the given keys were set, for the ones a layer other than the command line set (a {@code .cfg} or
     * {@code --config} file, the environment), so that an error of a layer nobody typed in (a file in deploy/) names
     * it; empty when only flags and defaults set them.
     */
    private static String setBy(Config config, String... paths) {
        StringBuilder out = new StringBuilder();
        for (String path : paths) {
            if (!config.hasPath(path) || config.getValue(path).origin() == null) {
                continue;
            }
            String origin = config.getValue(path).origin().description();
            if (origin.contains("reference.conf") || origin.equals("command-line flag") || origin.startsWith("built-in")
                    || origin.startsWith("default") || origin.startsWith("diffuse serve")) {
                continue;
            }
            out.append(out.length() == 0 ? " (" : "; ").append(path).append(" from ").append(origin);
        }
        return out.length() == 0 ? "" : out.append(')').toString();
    }

    private record Typed(Config config) {
        String string(String path) {
            try {
                return config.getString(path);
            } catch (com.typesafe.config.ConfigException.Missing e) {
                throw new ConfigException(path, null, "missing; a value is required");
            } catch (com.typesafe.config.ConfigException.WrongType e) {
                throw new ConfigException(path, config.getValue(path).unwrapped(), "expected a string");
            }
        }

        String name(String path) {
            String s = string(path).trim().toLowerCase(Locale.ROOT);
            if (s.isEmpty()) {
                throw new ConfigException(path, s, "a name is required");
            }
            return s;
        }

        int integer(String path) {
            try {
                return config.getInt(path);
            } catch (com.typesafe.config.ConfigException.Missing e) {
                throw new ConfigException(path, null, "missing; an integer is required");
            } catch (com.typesafe.config.ConfigException.WrongType e) {
                throw new ConfigException(path, config.getValue(path).unwrapped(), "expected an integer");
            }
        }

        int positiveInt(String path) {
            int v = integer(path);
            if (v < 1) {
                throw new ConfigException(path, v, "must be a positive integer");
            }
            return v;
        }

        double dbl(String path) {
            try {
                return config.getDouble(path);
            } catch (com.typesafe.config.ConfigException.Missing e) {
                throw new ConfigException(path, null, "missing; a number is required");
            } catch (com.typesafe.config.ConfigException.WrongType e) {
                throw new ConfigException(path, config.getValue(path).unwrapped(), "expected a number");
            }
        }

        boolean bool(String path) {
            try {
                return config.getBoolean(path);
            } catch (com.typesafe.config.ConfigException.Missing e) {
                throw new ConfigException(path, null, "missing; true or false is required");
            } catch (com.typesafe.config.ConfigException.WrongType e) {
                throw new ConfigException(path, config.getValue(path).unwrapped(), "expected true or false");
            }
        }

        Duration positiveDuration(String path) {
            Duration d;
            try {
                d = config.getDuration(path);
            } catch (com.typesafe.config.ConfigException.Missing e) {
                throw new ConfigException(path, null, "missing; a duration such as 60s is required");
            } catch (com.typesafe.config.ConfigException.BadValue | com.typesafe.config.ConfigException.WrongType e) {
                throw new ConfigException(path, config.getValue(path).unwrapped(), "expected a duration such as 60s or 5m");
            }
            if (d.isNegative() || d.isZero()) {
                throw new ConfigException(path, config.getValue(path).unwrapped(), "must be a positive duration such as 60s");
            }
            return d;
        }
    }
}
