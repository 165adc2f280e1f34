package io.diffuse.core.serve;

import io.diffuse.api.DiffuseException;
import io.diffuse.core.config.ConfigLoader;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The managed configuration layer (a {@code deploy/*.cfg}, a ConfigAdmin update of
 * {@code io.diffuse.engine}) as a server plans with it. A layer whose plan cannot run on this server
 * while the layers below it can (degrees beyond the world, a strategy not installed) is left out of
 * the jobs' plans rather than failing every request for the operator's file: it is logged once, with
 * its keys and file, and shown by {@code /admin/defaults} until it changes.
 */
public final class ManagedLayer {
    private static final Logger LOG = LoggerFactory.getLogger(ManagedLayer.class);

    private final Consumer<Map<String, ?>> check;
    private volatile Map<String, Object> status = Map.of();
    private String logged;

    /**
     * @param check plans a request with the given managed layer as a job on this server would, and
     *     throws when that plan cannot run here
     */
    public ManagedLayer(Consumer<Map<String, ?>> check) {
        this.check = check;
    }

    /** The layer jobs plan with now: {@code managed}, or none while its plan cannot run and the layers below can. */
    public synchronized Map<String, ?> usable(Map<String, ?> managed) {
        Map<String, Object> keys = ConfigLoader.managedKeys(managed);
        if (keys.isEmpty()) {
            status = Map.of();
            logged = null;
            return managed;
        }
        String source = ConfigLoader.managedSource(managed);
        String error = planError(managed);
        boolean used = error == null || planError(Map.of()) != null; // both fail: the layer is not the cause
        Map<String, Object> next = new LinkedHashMap<>();
        next.put("source", source);
        next.put("keys", keys);
        next.put("used", used);
        next.put("error", error);
        status = next;
        String problem = used ? null : source + " " + keys + " " + error;
        if (problem != null && !problem.equals(logged)) {
            LOG.warn("{}: {}: its plan cannot run on this server ({}); jobs plan without this layer until it changes",
                    source, render(keys), error);
        } else if (problem == null && logged != null) {
            LOG.warn("{}: {}: planned again; jobs use this layer", source, render(keys));
        }
        logged = problem;
        return used ? managed : Map.of();
    }

    /** What {@code /admin/defaults} shows: source, keys, used, error; empty without a managed layer. */
    public Map<String, Object> describe() {
        return status;
    }

    private String planError(Map<String, ?> managed) {
        try {
            check.accept(managed);
            return null;
        } catch (DiffuseException | ApiError | com.typesafe.config.ConfigException e) {
            return String.valueOf(e.getMessage());
        }
    }

    /** "diffuse.parallel.ring = 3, diffuse.parallel.strategy = ring", as in the file. */
    public static String render(Map<String, Object> keys) {
        return keys.entrySet().stream().map(e -> e.getKey() + " = " + e.getValue()).collect(Collectors.joining(", "));
    }
}
