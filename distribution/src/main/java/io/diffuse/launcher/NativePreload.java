package io.diffuse.launcher;

import java.util.Map;
import org.bytedeco.javacpp.Loader;

/**
 * In a rank process, loads libtorch on a background thread while the framework boots, so the two
 * largest start-up costs of a rank overlap (on a multi-core host the rank is ready about when the
 * slower of the two is done). Only in a rank (RANK is set): that process certainly runs libtorch,
 * while a launcher that only supervises ranks, or {@code info} and {@code --help}, need no natives.
 *
 * <p>The main thread waits for the preload ({@link #await}) before the engine runs anything, so the
 * two threads never load natives at the same time. The preload calls {@link Loader#load(Class)}
 * without initialising the preset class: if loading fails (e.g. GPU natives on a host without a
 * driver), nothing is left half-initialised and the engine meets the same failure where it reports
 * it in context.
 */
final class NativePreload {
    private static final String TORCH = "org.bytedeco.pytorch.global.torch";

    private NativePreload() {
    }

    /** The started preload thread when {@code environment} is a rank's, else null. */
    static Thread startIfRank(Map<String, String> environment) {
        if (environment.get("RANK") == null) {
            return null;
        }
        Thread t = new Thread(() -> {
            try {
                Loader.load(Class.forName(TORCH, false, NativePreload.class.getClassLoader()));
            } catch (ClassNotFoundException | RuntimeException | LinkageError e) {
                // Reported by the engine when it loads libtorch itself.
            }
        }, "diffuse-native-preload");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits for {@code preload} (null: nothing to wait for). */
    static void await(Thread preload) {
        if (preload == null) {
            return;
        }
        try {
            preload.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
