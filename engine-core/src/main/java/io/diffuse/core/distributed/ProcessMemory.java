package io.diffuse.core.distributed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * This process's memory as the Linux kernel counts it ({@code /proc/self/status}): resident now
 * (VmRSS) and its high-water mark (VmHWM). Empty where the file does not exist; each caller says
 * what stands in then.
 */
public final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status");

    private ProcessMemory() {
    }

    /** VmRSS in bytes. */
    public static OptionalLong residentBytes() {
        return field("VmRSS:");
    }

    /** VmHWM (peak resident) in bytes. */
    public static OptionalLong peakResidentBytes() {
        return field("VmHWM:");
    }

    /** MemAvailable of the host ({@code /proc/meminfo}): what new allocations can take without swapping, in bytes. */
    public static OptionalLong hostAvailableBytes() {
        return field(Path.of("/proc/meminfo"), "MemAvailable:");
    }

    private static OptionalLong field(String name) {
        return field(STATUS, name);
    }

    private static OptionalLong field(Path file, String name) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(name)) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024L);
                }
            }
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
        return OptionalLong.empty();
    }
}
