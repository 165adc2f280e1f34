package io.diffuse.launcher;

import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Loader;

/**
 * Unpacks the JavaCPP natives (libtorch, OpenBLAS, FFmpeg) into the cache
 * ({@code org.bytedeco.javacpp.cachedir}, default {@code ~/.javacpp/cache}) once, safely across
 * processes, before anything else loads them.
 *
 * <p>Why: JavaCPP locks each file while it extracts it, but not the loading, and it replaces files
 * with symbolic links (and back) while other processes may be mapping them; two JVMs starting
 * together on an empty cache crash in the dynamic loader with SIGBUS (seen 2 of 3 JVMs, every
 * trial). So the first process takes an exclusive lock on {@code <cache>/.diffuse-unpack.lock},
 * loads every preset (which extracts and links everything), and marks each native jar's cache
 * folder complete ({@code .diffuse-unpacked}); processes that start meanwhile wait for the lock, then
 * load from the finished cache. Once every native jar on the class path is marked, start-up takes no
 * lock and loads nothing here.
 */
public final class NativeCache {
    static final String MARKER = ".diffuse-unpacked";
    /**
     * System property set to {@code true} once this process found or made the cache complete: the
     * engine's local launcher then has nothing to unpack before it spawns ranks, and loads no natives.
     */
    public static final String UNPACKED_PROPERTY = "io.diffuse.natives.unpacked";
    static final String LOCK = ".diffuse-unpack.lock";
    /** Presets whose loading unpacks everything the engine loads later; absent ones are skipped. */
    private static final String[] PRESETS = {"org.bytedeco.pytorch.global.torch", "org.bytedeco.ffmpeg.global.avformat",
        "org.bytedeco.ffmpeg.global.swscale"};

    private NativeCache() {
    }

    /**
     * Makes sure the cache holds every native jar of the class path, complete. Failures are left to
     * the code that loads the natives later (it reports them in context); this never fails the start.
     */
    public static void prepare() {
        File cacheDir;
        try {
            cacheDir = Loader.getCacheDir();
        } catch (IOException | RuntimeException e) {
            return; // no usable cache folder: JavaCPP falls back to loading from temporary files
        }
        List<Path> markers = markers(cacheDir.toPath(), System.getProperty("java.class.path", ""), Loader.getPlatform());
        if (markers.isEmpty()) {
            return;
        }
        if (markers.stream().allMatch(Files::exists)) {
            System.setProperty(UNPACKED_PROPERTY, "true");
            return;
        }
        try (FileChannel channel = FileChannel.open(cacheDir.toPath().resolve(LOCK), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
                FileLock lock = channel.lock()) {
            if (markers.stream().allMatch(Files::exists)) {
                System.setProperty(UNPACKED_PROPERTY, "true");
                return; // another process finished it while this one waited
            }
            for (String preset : PRESETS) {
                Class<?> cls;
                try {
                    cls = Class.forName(preset, false, NativeCache.class.getClassLoader());
                } catch (ClassNotFoundException | LinkageError absent) {
                    continue;
                }
                Loader.load(cls);
            }
            for (Path marker : markers) {
                Files.createDirectories(marker.getParent());
                Files.writeString(marker, "unpacked completely by pid " + ProcessHandle.current().pid() + "\n");
            }
            System.setProperty(UNPACKED_PROPERTY, "true");
        } catch (IOException | RuntimeException | LinkageError e) {
            // e.g. GPU natives on a host without a driver: the engine reports it when it loads them
        }
    }

    /**
     * One marker per native jar on {@code classPath} (those named for {@code platform}, as JavaCPP's
     * are: {@code pytorch-2.10.0-1.5.13-linux-x86_64.jar}), in the cache folder JavaCPP extracts it to.
     */
    static List<Path> markers(Path cacheDir, String classPath, String platform) {
        boolean noSubdir = List.of("true", "t", "").contains(
                System.getProperty("org.bytedeco.javacpp.cachedir.nosubdir", "false").toLowerCase(java.util.Locale.ROOT));
        List<Path> markers = new ArrayList<>();
        for (String entry : classPath.split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName() == null ? "" : Path.of(entry).getFileName().toString();
            if (name.endsWith(".jar") && name.contains("-" + platform)) {
                markers.add(noSubdir ? cacheDir.resolve(MARKER + "-" + name) : cacheDir.resolve(name).resolve(MARKER));
            }
        }
        return markers;
    }
}
