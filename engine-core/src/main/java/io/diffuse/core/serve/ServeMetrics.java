package io.diffuse.core.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The server's metrics in Micrometer's Prometheus registry: queue depth, running jobs, jobs
 * completed and failed (by reason), denoising step time and stage time histograms, bytes each
 * process group moved and resident memory of every rank (reported after every denoising step and
 * every idle tick; rank 0's own is read when scraped).
 */
final class ServeMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicInteger running = new AtomicInteger();
    private final Counter completed;

    ServeMetrics(IntSupplier queueDepth, java.util.function.Supplier<java.util.Map<String, Long>> groupBytes,
            java.util.function.Supplier<long[]> rankResidentBytes, java.util.function.Supplier<long[]> rankDeviceBytes) {
        Gauge.builder("diffuse_queue_depth", queueDepth::getAsInt).description("jobs waiting").register(registry);
        Gauge.builder("diffuse_jobs_running", running::get).description("jobs running (0 or 1)").register(registry);
        completed = Counter.builder("diffuse_jobs_completed").description("jobs completed").register(registry);
        long[] ranks = rankResidentBytes.get();
        for (int r = 0; r < ranks.length; r++) {
            int rank = r;
            Gauge.builder("diffuse_rank_resident_bytes", () -> rank == 0 ? ControlPlane.residentBytes()
                    : rankResidentBytes.get()[rank]).description("resident memory (VmRSS) of each rank, as last reported")
                    .tag("rank", Integer.toString(rank)).baseUnit("bytes").register(registry);
            if (rankDeviceBytes != null) { // ranks on CUDA
                Gauge.builder("diffuse_rank_device_allocated_bytes", () -> rankDeviceBytes.get()[rank])
                        .description("bytes each rank's CUDA caching allocator holds for tensors, as last reported")
                        .tag("rank", Integer.toString(rank)).baseUnit("bytes").register(registry);
            }
        }
        this.groupBytes = groupBytes;
    }

    private final java.util.function.Supplier<java.util.Map<String, Long>> groupBytes;
    private final java.util.Set<String> groupsSeen = java.util.concurrent.ConcurrentHashMap.newKeySet();

    void running(boolean on) {
        running.set(on ? 1 : 0);
    }

    void completed() {
        completed.increment();
    }

    void failed(String reason) {
        Counter.builder("diffuse_jobs_failed").description("jobs failed, by reason").tag("reason", reason).register(registry)
                .increment();
    }

    void rejected(String reason) {
        Counter.builder("diffuse_requests_rejected").description("requests refused before queueing, by reason")
                .tag("reason", reason).register(registry).increment();
    }

    void step(String stage, Duration d) {
        Timer.builder("diffuse_step_seconds").description("time of one denoising step").tag("stage", stage)
                .publishPercentileHistogram().register(registry).record(d);
    }

    void stage(String stage, Duration d) {
        Timer.builder("diffuse_stage_seconds").description("time of a pipeline stage").tag("stage", stage)
                .publishPercentileHistogram().register(registry).record(d);
    }

    /** Prometheus text exposition. */
    String scrape() {
        for (var e : groupBytes.get().entrySet()) {
            if (groupsSeen.add(e.getKey())) {
                String group = e.getKey();
                Gauge.builder("diffuse_group_bytes", () -> groupBytes.get().getOrDefault(group, 0L))
                        .description("bytes rank 0 moved through the process group").tag("group", group).baseUnit("bytes")
                        .register(registry);
            }
        }
        return registry.scrape();
    }
}
