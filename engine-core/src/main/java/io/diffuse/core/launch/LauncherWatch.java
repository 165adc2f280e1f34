package io.diffuse.core.launch;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Makes a rank die with its launcher. {@link LocalLauncher} gives each rank a pipe as standard input
 * and never writes to it or closes it; the kernel closes it when the launcher process ends in any
 * way, including SIGKILL and the OOM killer. A daemon thread of the rank reads it and, at end of
 * file, halts the JVM at once ({@link Runtime#halt}: no shutdown hooks, so no output is finished or
 * renamed into place). Runs only in ranks whose environment has {@value #ENV}{@code =stdin}, which
 * the launcher sets; torchrun-started ranks are left alone.
 */
public final class LauncherWatch {
    /** Environment variable the launcher sets on its ranks (not DIFFUSE_*: those are configuration keys). */
    public static final String ENV = "IO_DIFFUSE_LAUNCHER_PIPE";
    /** Exit status of a rank whose launcher is gone. */
    static final int ORPHANED = 1;
    private static final AtomicBoolean STARTED = new AtomicBoolean();

    private LauncherWatch() {
    }

    /** Starts watching standard input if {@code environment} says a launcher holds its other end; once per process. */
    public static void startIfLaunched(Map<String, String> environment) {
        if (!"stdin".equals(environment.get(ENV)) || !STARTED.compareAndSet(false, true)) {
            return;
        }
        // fd 0 itself, whatever System.in was replaced by.
        InputStream launcherPipe = new FileInputStream(FileDescriptor.in);
        Thread watch = new Thread(() -> {
            byte[] ignored = new byte[256];
            try {
                while (launcherPipe.read(ignored) >= 0) {
                    // the launcher writes nothing; anything it might write is ignored
                }
            } catch (IOException e) {
                // a broken pipe means the same: the launcher is gone
            }
            Runtime.getRuntime().halt(ORPHANED);
        }, "diffuse-launcher-watch");
        watch.setDaemon(true);
        watch.start();
    }
}
