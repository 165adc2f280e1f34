package io.diffuse.core.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.registry.PluginRegistry;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What one rank can run: the names of its installed parallel strategies, VAE executors and step-cache
 * policies (bundles come and go in each rank's own framework), plus its resident memory and, on
 * CUDA, the memory its allocator holds, and what it has free for a job ({@code freeBytes}: the host's
 * available memory on the CPU, the device's free memory on CUDA; 0 = unknown) on {@code host}. Ranks report
 * it to rank 0 between jobs; rank 0 admits a request only when every rank has what its plan names.
 */
record RankInventory(List<String> strategies, List<String> vaeExecutors, List<String> cachePolicies, long residentBytes,
        long deviceBytes, long freeBytes, String host) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** This process's inventory now. */
    static RankInventory of(PluginRegistry registry, org.bytedeco.pytorch.Device device) {
        return new RankInventory(names(registry.strategies()), names(registry.vaeExecutors()),
                Stream.concat(Stream.of(StepCachePolicy.NONE), registry.cachePolicies().stream().map(PluginRegistry.Installed::name))
                        .toList(),
                ControlPlane.residentBytes(), ControlPlane.deviceAllocatedBytes(device), JobAdmission.freeBytes(device),
                JobAdmission.hostName());
    }

    private static List<String> names(List<? extends PluginRegistry.Installed<?>> installed) {
        return installed.stream().map(PluginRegistry.Installed::name).toList();
    }

    String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("strategies", strategies);
        m.put("vae_executors", vaeExecutors);
        m.put("cache_policies", cachePolicies);
        m.put("resident_bytes", residentBytes);
        m.put("device_bytes", deviceBytes);
        m.put("free_bytes", freeBytes);
        m.put("host", host);
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static RankInventory parse(String json) {
        try {
            Map<String, Object> m = JSON.readValue(json, Map.class);
            return new RankInventory((List<String>) m.get("strategies"), (List<String>) m.get("vae_executors"),
                    (List<String>) m.get("cache_policies"), ((Number) m.get("resident_bytes")).longValue(),
                    ((Number) m.get("device_bytes")).longValue(), ((Number) m.getOrDefault("free_bytes", 0)).longValue(),
                    String.valueOf(m.getOrDefault("host", "")));
        } catch (JsonProcessingException | RuntimeException e) {
            throw new IllegalStateException("a rank's report is not readable: " + json, e);
        }
    }

    /** What {@code plan} names that this rank lacks, e.g. "parallel strategy 'x'"; empty when it has everything. */
    List<String> missing(EngineSettings plan) {
        List<String> missing = new ArrayList<>();
        if (!strategies.contains(plan.parallel().strategy())) {
            missing.add("parallel strategy '" + plan.parallel().strategy() + "'");
        }
        if (!vaeExecutors.contains(plan.vae().executor())) {
            missing.add("VAE executor '" + plan.vae().executor() + "'");
        }
        String policy = String.valueOf(plan.subtree("diffuse.cache").getOrDefault("policy", StepCachePolicy.NONE));
        if (!cachePolicies.contains(policy)) {
            missing.add("step-cache policy '" + policy + "'");
        }
        return missing;
    }

    /**
     * One line naming what each rank lacks for {@code plan} ("parallel strategy 'x' is not installed on
     * rank 1"), or null when every rank has everything.
     */
    static String whatRanksLack(RankInventory[] ranks, EngineSettings plan) {
        Map<String, List<Integer>> lacking = new TreeMap<>();
        for (int r = 0; r < ranks.length; r++) {
            if (ranks[r] == null) {
                continue;
            }
            for (String m : ranks[r].missing(plan)) {
                lacking.computeIfAbsent(m, k -> new ArrayList<>()).add(r);
            }
        }
        if (lacking.isEmpty()) {
            return null;
        }
        List<String> parts = new ArrayList<>();
        lacking.forEach((what, rs) -> parts.add(what + " is not installed on " + (rs.size() == 1 ? "rank " + rs.get(0)
                : "ranks " + rs)));
        return String.join("; ", parts) + " (install the bundle on every rank's host, e.g. in its deploy/; ranks report what"
                + " they have between jobs)";
    }
}
