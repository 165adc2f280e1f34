package io.diffuse.hunyuan15.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Wall time and peak resident memory (RSS) per pipeline stage. On Linux the kernel's peak-RSS mark
 * (VmHWM) is reset at each stage start by writing "5" to /proc/self/clear_refs, so each stage's
 * peak is its own; elsewhere (or when the reset is refused) the process-wide peak is reported.
 */
final class StageMeter {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private final Map<String, Duration> times = new LinkedHashMap<>();
    private final Map<String, Long> peaks = new LinkedHashMap<>();
    private String stage;
    private long started;

    void start(String name) {
        stage = name;
        try {
            Files.writeString(CLEAR_REFS, "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // Not Linux or not allowed: the peak below is then the process-wide one.
        }
        started = System.nanoTime();
    }

    void finish() {
        times.put(stage, Duration.ofNanos(System.nanoTime() - started));
        peaks.put(stage, peakRssBytes());
    }

    Map<String, Duration> times() {
        return new LinkedHashMap<>(times);
    }

    Map<String, Long> peaks() {
        return new LinkedHashMap<>(peaks);
    }

    /** VmHWM from /proc/self/status in bytes, or the JVM heap in use when that file is absent. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through
        }
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }
}
