package io.diffuse.core.generate;

import io.diffuse.api.model.ProgressListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * Wall time and peak memory per pipeline stage, measured by the engine around the pipeline's progress
 * events (stage started / finished), so no model plugin measures itself; the events pass on to the
 * wrapped listener. On a CUDA device the peak is the CUDA caching
 * allocator's peak of allocated bytes on the run's GPU (torch.cuda.max_memory_allocated), reset at
 * each stage start; on the CPU it is the peak resident memory (RSS): on Linux the kernel's peak-RSS
 * mark (VmHWM) is reset at each stage start by writing "5" to /proc/self/clear_refs, so each stage's
 * peak is its own; elsewhere (or when the reset is refused) the process-wide peak is reported.
 */
final class StageClock implements ProgressListener {
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private final Map<String, Duration> times = new LinkedHashMap<>();
    private final Map<String, Long> peaks = new LinkedHashMap<>();
    private final Device device;
    private String stage;
    private long started;

    private final ProgressListener next;

    /** A clock of {@code device}'s memory (the CUDA allocator's for a CUDA device, else the process's RSS) passing events to {@code next}. */
    StageClock(Device device, ProgressListener next) {
        this.device = device;
        this.next = next;
    }

    @Override
    public void stageStarted(String name) {
        start(name);
        next.stageStarted(name);
    }

    @Override
    public void step(String stage, int step, int total) {
        next.step(stage, step, total);
    }

    @Override
    public boolean interruptRequested(String stage, int step, int total) {
        return next.interruptRequested(stage, step, total);
    }

    @Override
    public void stageFinished(String name) {
        if (name.equals(stage)) {
            finish();
        }
        next.stageFinished(name);
    }

    private void start(String name) {
        stage = name;
        if (device.is_cuda()) {
            torch_cuda.getAllocator().resetPeakStats(cudaIndex());
            started = System.nanoTime();
            return;
        }
        try {
            Files.writeString(CLEAR_REFS, "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // Not Linux or not allowed: the peak below is then the process-wide one.
        }
        started = System.nanoTime();
    }

    private void finish() {
        times.put(stage, Duration.ofNanos(System.nanoTime() - started));
        // StatArray element 0 is the aggregate over the allocator's pools.
        peaks.put(stage, device.is_cuda() ? torch_cuda.getAllocator().getDeviceStats(cudaIndex()).allocated_bytes().peak()
                : peakRssBytes());
    }

    private byte cudaIndex() {
        return device.has_index() ? device.index() : torch_cuda.current_device();
    }

    Map<String, Duration> times() {
        return new LinkedHashMap<>(times);
    }

    Map<String, Long> peaks() {
        return new LinkedHashMap<>(peaks);
    }

    /** VmHWM from /proc/self/status in bytes, or the JVM heap in use when that file is absent. */
    static long peakRssBytes() {
        Runtime rt = Runtime.getRuntime();
        return io.diffuse.core.distributed.ProcessMemory.peakResidentBytes().orElseGet(() -> rt.totalMemory() - rt.freeMemory());
    }
}
