package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where this process sits in a distributed run, from the torchrun contract: the environment
 * variables {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code MASTER_ADDR} and
 * {@code MASTER_PORT}. The local launcher sets exactly these on the ranks it spawns; an external
 * launcher (torchrun, Slurm scripts) can do the same.
 *
 * @param rank global rank, 0..worldSize-1
 * @param worldSize number of ranks
 * @param localRank rank on this host (selects the CUDA device)
 * @param masterAddr host of rank 0's TCPStore
 * @param masterPort port of rank 0's TCPStore
 */
public record RankEnvironment(int rank, int worldSize, int localRank, String masterAddr, int masterPort) {
    public static final String RANK = "RANK";
    public static final String WORLD_SIZE = "WORLD_SIZE";
    public static final String LOCAL_RANK = "LOCAL_RANK";
    /**
     * Set by the local launcher in the ranks it starts: their layout comes from the same flags and
     * configuration as the launcher's, so WORLD_SIZE is only checked against it, not taken as a setting.
     */
    public static final String LOCAL_LAUNCHER = "IO_DIFFUSE_LOCAL_LAUNCHER";
    public static final String MASTER_ADDR = "MASTER_ADDR";
    public static final String MASTER_PORT = "MASTER_PORT";

    public RankEnvironment {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new DiffuseException("rank " + rank + " is not within a world of " + worldSize + " ranks (" + RANK + ", "
                    + WORLD_SIZE + ")");
        }
        if (localRank < 0) {
            throw new DiffuseException(LOCAL_RANK + " must be >= 0, got " + localRank);
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw new DiffuseException("rendezvous port " + masterPort + " is not in 1..65535; set " + MASTER_PORT
                    + " or diffuse.dist.master-port");
        }
    }

    /** Whether this is the rank that hosts the TCPStore. */
    public boolean isMaster() {
        return rank == 0;
    }

    /**
     * Reads the contract from {@code env}; empty when {@code RANK} is not set (not a spawned rank).
     * {@code MASTER_ADDR} and {@code MASTER_PORT} fall back to {@code defaultAddr} and
     * {@code defaultPort} (diffuse.dist.master-addr / master-port); {@code LOCAL_RANK} to {@code RANK}.
     *
     * @throws DiffuseException naming the variable that is missing or malformed
     */
    public static Optional<RankEnvironment> from(Map<String, String> env, String defaultAddr, int defaultPort) {
        String rank = env.get(RANK);
        if (rank == null || rank.isBlank()) {
            return Optional.empty();
        }
        int r = integer(env, RANK);
        if (env.get(WORLD_SIZE) == null) {
            throw new DiffuseException(RANK + " is set but " + WORLD_SIZE + " is not; set both (torchrun contract)");
        }
        int world = integer(env, WORLD_SIZE);
        int local = env.get(LOCAL_RANK) == null ? r : integer(env, LOCAL_RANK);
        String addr = env.getOrDefault(MASTER_ADDR, defaultAddr);
        int port = env.get(MASTER_PORT) == null ? defaultPort : integer(env, MASTER_PORT);
        if (port == 0) {
            throw new DiffuseException(MASTER_PORT + " is not set and diffuse.dist.master-port = 0; every rank must know "
                    + "rank 0's port: set " + MASTER_PORT + " or diffuse.dist.master-port");
        }
        return Optional.of(new RankEnvironment(r, world, local, addr, port));
    }

    /** The variables that place a child process at this position. */
    public Map<String, String> toEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put(RANK, Integer.toString(rank));
        env.put(WORLD_SIZE, Integer.toString(worldSize));
        env.put(LOCAL_RANK, Integer.toString(localRank));
        env.put(MASTER_ADDR, masterAddr);
        env.put(MASTER_PORT, Integer.toString(masterPort));
        return env;
    }

    private static int integer(Map<String, String> env, String name) {
        String v = env.get(name).trim();
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new DiffuseException("environment variable " + name + "='" + v + "' is not an integer");
        }
    }
}
