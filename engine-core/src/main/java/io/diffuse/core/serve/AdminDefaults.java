package io.diffuse.core.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.diffuse.api.DiffuseException;
import io.diffuse.core.generate.GenerateSettings;
import io.diffuse.core.generate.GenerationPlan;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin endpoint's layer of defaults ({@code /admin/defaults}): {@code diffuse.*} keys, as in a
 * {@code .cfg}, that sit above the server's start flags and below a request's own fields. Jobs plan
 * when they start, so a change applies from the next job to start; the running job keeps its plan.
 * A change is checked by planning with it (the same checked plan a job gets) before it takes effect.
 * They are kept in {@code <output-dir>/admin-defaults.json}, as ConfigAdmin keeps its configurations,
 * so a restart of the ranks (or a new server on the same folder) keeps them; DELETE removes the file.
 */
final class AdminDefaults {
    private static final Logger LOG = LoggerFactory.getLogger(AdminDefaults.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The subtrees an admin default may set. */
    static final List<String> ALLOWED = List.of("diffuse.parallel.", "diffuse.vae.", "diffuse.cache.", "diffuse.attention.",
            "diffuse.generate.");
    /** Keys of diffuse.generate the server decides per request (the model it loaded, its output paths, the request's inputs). */
    static final Set<String> SERVER_DECIDES = Set.of("diffuse.generate.model", "diffuse.generate.model-family",
            "diffuse.generate.output", "diffuse.generate.output-tensors", "diffuse.generate.png-frames",
            "diffuse.generate.image", "diffuse.generate.prompt-embeds", "diffuse.generate.prompt");
    private static final Pattern KEY = Pattern.compile("diffuse(\\.[a-z0-9][a-z0-9_-]*)+");
    private static final String NPROC = "diffuse.parallel.nproc";

    private final String adminKey;
    private final List<String> apiKeys;
    private final boolean loopback;
    private final String host;
    private final int worldSize;
    /** The request flags of a probe request to a checked plan (the server's planner and its world and model checks). */
    private final Function<Map<String, Object>, GenerationPlan> checkedPlan;
    private final Map<String, Object> probe;
    private final Path file;
    private volatile Map<String, Object> overrides = Map.of();
    /** The managed layer (a deploy/ .cfg) below the start flags, as the planner last used it. */
    private volatile java.util.function.Supplier<Map<String, Object>> managed = Map::of;
    private long changes;

    /**
     * @param checkedPlan request flags (already layered over these defaults) to the checked plan a job would get
     */
    AdminDefaults(ServeSettings settings, int worldSize, Function<Map<String, Object>, GenerationPlan> checkedPlan) {
        this.adminKey = settings.adminKey();
        this.apiKeys = settings.apiKeys();
        this.host = settings.host();
        this.loopback = isLoopback(settings.host());
        this.worldSize = worldSize;
        this.checkedPlan = checkedPlan;
        // What a request always brings (a prompt; the server's output path), so that the plan can be checked.
        this.probe = Map.of("diffuse.generate.prompt", "admin defaults check", "diffuse.generate.output",
                settings.outputDir().resolve("admin-defaults-check.mp4").toString());
        this.file = settings.outputDir().resolve("admin-defaults.json");
        restore();
    }

    void managedLayer(java.util.function.Supplier<Map<String, Object>> status) {
        this.managed = status;
    }

    /** Brings back the saved defaults, checked again (the configuration below may have changed). */
    private void restore() {
        if (!Files.isRegularFile(file)) {
            return;
        }
        try {
            Map<String, Object> saved = new LinkedHashMap<>();
            parse(Files.readAllBytes(file)).forEach((k, v) -> {
                if (v != null) {
                    saved.put(k, v);
                }
            });
            saved.keySet().forEach(AdminDefaults::requireAllowed);
            checkedPlan.apply(layered(saved, probe));
            overrides = Collections.unmodifiableMap(new TreeMap<>(saved));
            LOG.info("admin defaults restored from {}: {} (DELETE /admin/defaults clears them)", file, overrides);
        } catch (IOException | RuntimeException e) {
            LOG.warn("admin defaults in {} are not used (they no longer plan; the next change replaces them): {}", file,
                    e.getMessage());
        }
    }

    /** Saves the defaults (atomically: a reader or a restart sees the old file or the new one), or removes the file. */
    private void save(Map<String, Object> next) {
        try {
            if (next.isEmpty()) {
                Files.deleteIfExists(file);
                return;
            }
            Path staging = file.resolveSibling("." + file.getFileName() + ".tmp");
            try {
                Files.write(staging, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(new TreeMap<>(next)));
                Files.move(staging, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                OutputFolder.delete(staging); // a full disk leaves no empty staging file
                throw e;
            }
        } catch (IOException e) {
            LOG.warn("cannot save the admin defaults to {}: {}", file, e.toString());
            throw OutputFolder.fault("the admin defaults are not saved and nothing changed", e);
        }
    }

    static boolean isLoopback(String host) {
        if (host == null || host.isBlank()) {
            return false; // every interface
        }
        try {
            return InetAddress.getByName(host.trim()).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /**
     * Who may use the admin endpoints: with {@code diffuse.serve.admin-key}, only its bearer (the API
     * key does not grant admin); without, the API key rule, and only while the server listens on
     * loopback.
     *
     * @param authorization the Authorization header, or null
     */
    void authorize(String authorization) {
        if (!adminKey.isEmpty()) {
            if (!ApiKeys.isBearer(authorization, adminKey)) {
                throw new ApiError(401, "authentication_error", null, "invalid_admin_key",
                        "missing or wrong admin key: send Authorization: Bearer <diffuse.serve.admin-key>");
            }
            return;
        }
        if (!loopback) {
            throw new ApiError(403, "permission_error", null, "admin_key_required", "the admin endpoints are off while the"
                    + " server listens on " + host + " (not loopback) without an admin key: set diffuse.serve.admin-key"
                    + " (DIFFUSE_SERVE_ADMIN__KEY)");
        }
        if (!apiKeys.isEmpty() && apiKeys.stream().noneMatch(k -> ApiKeys.isBearer(authorization, k))) {
            throw new ApiError(401, "authentication_error", null, "invalid_api_key",
                    "missing or wrong API key: send Authorization: Bearer <diffuse.serve.api-key>");
        }
    }

    /** A request's flags over these defaults (a request's own fields win, key by key). */
    Map<String, Object> under(Map<String, Object> request) {
        return layered(overrides, request);
    }

    private Map<String, Object> layered(Map<String, Object> defaults, Map<String, Object> request) {
        Map<String, Object> flags = new LinkedHashMap<>(defaults);
        flags.putAll(request);
        if (!flags.containsKey(NPROC) && flags.keySet().stream().anyMatch(k -> k.startsWith("diffuse.parallel."))) {
            // A plan within this world: the given degrees, the server's rank count.
            flags.put(NPROC, worldSize);
        }
        return flags;
    }

    /**
     * One admin call: GET reads; PUT replaces the overrides with the body, PATCH merges it (a null
     * value removes a key), DELETE clears them. A change that fails its check is a 400 naming the key
     * and leaves the defaults as they were.
     *
     * @param body the request body (PUT, PATCH), else ignored
     * @return the defaults after the call, as GET shows them
     */
    synchronized Map<String, Object> handle(String method, byte[] body) {
        Map<String, Object> next;
        switch (method) {
            case "GET" -> {
                return describe();
            }
            case "DELETE" -> next = Map.of();
            case "PUT" -> {
                next = new LinkedHashMap<>();
                parse(body).forEach((k, v) -> {
                    if (v != null) {
                        next.put(k, v);
                    }
                });
            }
            case "PATCH" -> {
                next = new LinkedHashMap<>(overrides);
                parse(body).forEach((k, v) -> {
                    if (v == null) {
                        next.remove(k);
                    } else {
                        next.put(k, v);
                    }
                });
            }
            default -> throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", method
                    + " /admin/defaults is not an endpoint here; use GET, PUT, PATCH or DELETE");
        }
        next.keySet().forEach(AdminDefaults::requireAllowed);
        try {
            checkedPlan.apply(layered(next, probe));
        } catch (ApiError e) {
            throw ApiError.invalid(paramOf(e.getMessage(), next, e.param), e.getMessage());
        } catch (DiffuseException | com.typesafe.config.ConfigException e) {
            String message = String.valueOf(e.getMessage()).replace("(from command-line flag)", "(from the admin defaults)");
            // The key that was sent, not the one the message suggests instead.
            String sent = e instanceof io.diffuse.core.config.UnknownKeyException u ? u.path()
                    : e instanceof io.diffuse.core.config.ConfigException c && next.containsKey(c.path()) ? c.path() : null;
            throw ApiError.invalid(sent != null ? sent : paramOf(message, next, null), message);
        }
        save(next);
        Map<String, Object> before = overrides;
        overrides = Collections.unmodifiableMap(new TreeMap<>(next));
        changes++;
        LOG.info("admin defaults ({}): {} -> {}; the next job to start plans with them", method, before, overrides);
        return describe();
    }

    /** The overrides, the default plan they give (as jobs report it) and the request defaults. */
    private Map<String, Object> describe() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("object", "admin.defaults");
        out.put("overrides", overrides);
        try {
            GenerationPlan plan = checkedPlan.apply(layered(overrides, probe));
            out.put("plan", VideoServer.describe(plan.settings()));
            GenerateSettings g = plan.generate();
            Map<String, Object> request = new LinkedHashMap<>();
            request.put("width", g.width().orElse(null));
            request.put("height", g.height().orElse(null));
            request.put("num_frames", g.numFrames());
            request.put("fps", g.outputs().fps());
            request.put("num_inference_steps", g.numInferenceSteps());
            request.put("guidance_scale", g.guidanceScale());
            request.put("flow_shift", g.flowShift().orElse(null));
            request.put("seed", g.seed());
            request.put("attention_backend", plan.settings().attention().backend());
            request.put("cache_policy", plan.settings().subtree("diffuse.cache").get("policy"));
            out.put("request_defaults", request);
        } catch (ApiError | DiffuseException | com.typesafe.config.ConfigException e) {
            // The configuration below (a deploy/ .cfg) changed so that these defaults no longer plan.
            out.put("plan", null);
            out.put("plan_error", e.getMessage());
        }
        Map<String, Object> layer = managed.get(); // read after planning: as that plan used it
        out.put("managed", layer.isEmpty() ? null : layer);
        out.put("changes", changes);
        return out;
    }

    /** The body: a JSON object of diffuse.* keys to scalar values (null: remove, in PATCH). */
    private static Map<String, Object> parse(byte[] body) {
        Object parsed = StrictJson.read(body);
        if (!(parsed instanceof Map<?, ?> map)) {
            throw ApiError.invalid(null, "the body must be a JSON object of diffuse.* keys, e.g. {\"diffuse.parallel.strategy\":"
                    + " \"ring\", \"diffuse.parallel.ring\": 2, \"diffuse.parallel.ulysses\": 1}");
        }
        Map<String, Object> values = new LinkedHashMap<>();
        map.forEach((k, v) -> {
            String key = String.valueOf(k);
            if (v != null && !(v instanceof String || v instanceof Number || v instanceof Boolean)) {
                throw ApiError.invalid(key, key + " must be a string, number or boolean (one key per configuration path,"
                        + " as in a .cfg), not " + (v instanceof Map ? "an object" : "an array"));
            }
            values.put(key, v);
        });
        return values;
    }

    static void requireAllowed(String key) {
        if (SERVER_DECIDES.contains(key)) {
            throw ApiError.invalid(key, key + " is decided by the server for each request and cannot be an admin default");
        }
        if (ALLOWED.stream().noneMatch(key::startsWith) || !KEY.matcher(key).matches()) {
            throw ApiError.invalid(key, "'" + key + "' cannot be an admin default; allowed: "
                    + String.join(", ", ALLOWED.stream().map(p -> p + "*").toList()) + " (except "
                    + String.join(", ", new java.util.TreeSet<>(SERVER_DECIDES)) + ")");
        }
    }

    /** The override key a planning error is about: named in full, else by its last segment; else the error's own field. */
    private static String paramOf(String message, Map<String, Object> candidate, String fallback) {
        String m = String.valueOf(message);
        List<String> keys = candidate.keySet().stream().sorted(Comparator.comparingInt(String::length).reversed()).toList();
        for (String k : keys) {
            if (m.contains(k)) {
                return k;
            }
        }
        for (String k : keys) {
            String last = k.substring(k.lastIndexOf('.') + 1);
            if (Pattern.compile("\\b" + Pattern.quote(last) + "\\b").matcher(m).find()) {
                return k;
            }
        }
        return fallback;
    }
}
