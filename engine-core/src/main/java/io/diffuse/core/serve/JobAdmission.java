package io.diffuse.core.serve;

import io.diffuse.core.generate.GenerateSettings;
import io.diffuse.core.generate.GenerationPlan;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Function;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Device;

/**
 * What every job must fit, whatever layer set its values (the request, the admin defaults, the
 * server's configuration and deploy/ files): {@code max-frames}, {@code max-steps}, width x height x
 * frames within {@code max-video-pixels}, and the model's estimate of its memory per rank within the
 * memory budget. Checked on the whole plan when a request is admitted, when the admin defaults change
 * and when the job starts (the configuration may have changed since); a refusal is a 400 naming the
 * value, the limit and its key, before anything is queued or allocated.
 */
final class JobAdmission {
    /** Of what a rank has free, the share {@code memory-budget = auto} lets one job take. */
    static final double AUTO_SHARE = 0.8;

    private final ServeSettings settings;
    private final Function<GenerationPlan, OptionalLong> estimator;
    private final Supplier<RankInventory[]> ranks;

    /**
     * @param estimator a plan to the model's estimate of its request's memory on the rank that needs the most
     * @param ranks what every rank last reported (entries null until it reported)
     */
    JobAdmission(ServeSettings settings, Function<GenerationPlan, OptionalLong> estimator, Supplier<RankInventory[]> ranks) {
        this.settings = settings;
        this.estimator = estimator;
        this.ranks = ranks;
    }

    /**
     * An admitted plan's memory: the estimate (empty when the model cannot tell) and the budget it was
     * held to (0 = none, {@link ServeSettings#AUTO_BUDGET} = not known yet: no rank had reported).
     */
    record Admitted(OptionalLong estimateBytes, long budgetBytes) {
    }

    /** Checks {@code plan}'s request against every limit. */
    Admitted check(GenerationPlan plan) {
        GenerateSettings g = plan.generate();
        if (g.numFrames() > settings.maxFrames()) {
            throw ApiError.invalid("num_frames", "num_frames " + g.numFrames() + " (diffuse.generate.num-frames) is more than the "
                    + settings.maxFrames() + " frames this server allows (diffuse.serve.max-frames)");
        }
        if (g.numInferenceSteps() > settings.maxSteps()) {
            throw ApiError.invalid("num_inference_steps", "num_inference_steps " + g.numInferenceSteps()
                    + " (diffuse.generate.num-inference-steps) is more than the " + settings.maxSteps()
                    + " steps this server allows (diffuse.serve.max-steps)");
        }
        String size = describe(g);
        if (settings.maxVideoPixels() > 0 && g.width().isPresent() && g.height().isPresent()) {
            long pixels = (long) g.width().get() * g.height().get() * g.numFrames();
            if (pixels > settings.maxVideoPixels()) {
                throw new ApiError(400, "invalid_request_error", "size", "video_too_large", size + " is " + pixels
                        + " pixels (width x height x frames); this server allows at most " + settings.maxVideoPixels()
                        + " (diffuse.serve.max-video-pixels): ask for a smaller size or fewer frames");
            }
        }
        OptionalLong estimate = estimator.apply(plan);
        long budget = budget();
        if (estimate.isPresent() && budget > 0 && estimate.getAsLong() > budget) {
            throw new ApiError(400, "invalid_request_error", "size", "memory_budget_exceeded", size + " needs about "
                    + gib(estimate.getAsLong()) + " per rank (the model's estimate for " + plan.settings().dtype().label() + ", "
                    + plan.settings().parallel().plan() + "), more than this server's memory budget of " + gib(budget)
                    + " per rank (diffuse.serve.memory-budget" + (settings.memoryBudget() == ServeSettings.AUTO_BUDGET
                            ? " = auto: " + Math.round(AUTO_SHARE * 100) + " % of what the ranks have free" : "")
                    + "): ask for a smaller size or fewer frames");
        }
        return new Admitted(estimate, budget);
    }

    /**
     * The memory one job may take per rank: the configured size, or (auto) the least over the ranks of
     * their free memory, a host's shared by its ranks, times {@link #AUTO_SHARE}; {@link ServeSettings#AUTO_BUDGET}
     * while no rank has said what it has free.
     */
    long budget() {
        if (settings.memoryBudget() != ServeSettings.AUTO_BUDGET) {
            return settings.memoryBudget();
        }
        RankInventory[] reported = ranks.get();
        Map<String, Integer> ranksPerHost = new HashMap<>();
        for (RankInventory r : reported) {
            if (r != null && r.freeBytes() > 0) {
                ranksPerHost.merge(r.host(), 1, Integer::sum);
            }
        }
        long least = Long.MAX_VALUE;
        for (RankInventory r : reported) {
            if (r != null && r.freeBytes() > 0) {
                // CPU ranks of one host draw on the same memory; GPUs report their own (one rank each).
                long share = r.deviceBytes() > 0 ? r.freeBytes() : r.freeBytes() / ranksPerHost.get(r.host());
                least = Math.min(least, share);
            }
        }
        return least == Long.MAX_VALUE ? ServeSettings.AUTO_BUDGET : (long) (least * AUTO_SHARE);
    }

    /** "1024x1024, 257 frames" (the size as planned: the request's or a default's). */
    private static String describe(GenerateSettings g) {
        String size = g.width().isPresent() && g.height().isPresent() ? "size " + g.width().get() + "x" + g.height().get()
                : "the model's default size";
        return size + " with " + g.numFrames() + " frames";
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /**
     * What this rank has free for a job: on CUDA the device's free memory (cudaMemGetInfo, when the CUDA
     * runtime's bindings are on the class path) plus what the caching allocator holds unused; else the
     * host's available memory; 0 when unknown.
     */
    static long freeBytes(Device device) {
        if (device != null && device.is_cuda()) {
            try {
                byte index = device.has_index() ? device.index() : org.bytedeco.pytorch.global.torch_cuda.current_device();
                var stats = org.bytedeco.pytorch.global.torch_cuda.getAllocator().getDeviceStats(index);
                long cached = stats.reserved_bytes().current() - stats.allocated_bytes().current();
                // Looked up by name where libtorch's bindings live (the launcher's class path): only CUDA builds have it.
                Class<?> cudart = Class.forName(String.join(".", "org", "bytedeco", "cuda", "global", "cudart"), true,
                        org.bytedeco.pytorch.global.torch_cuda.class.getClassLoader());
                try (org.bytedeco.javacpp.SizeTPointer free = new org.bytedeco.javacpp.SizeTPointer(1);
                        org.bytedeco.javacpp.SizeTPointer total = new org.bytedeco.javacpp.SizeTPointer(1)) {
                    cudart.getMethod("cudaMemGetInfo", org.bytedeco.javacpp.SizeTPointer.class,
                            org.bytedeco.javacpp.SizeTPointer.class).invoke(null, free, total);
                    return free.get() + Math.max(0, cached);
                }
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                return 0;
            }
        }
        return io.diffuse.core.distributed.ProcessMemory.hostAvailableBytes().orElse(0);
    }

    /** This host's name (ranks of one host share its memory), or "" when it cannot be told; looked up once. */
    static String hostName() {
        return Host.NAME;
    }

    private static final class Host {
        static final String NAME = lookUp();

        private static String lookUp() {
            try {
                return java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.io.IOException e) {
                return "";
            }
        }
    }
}
