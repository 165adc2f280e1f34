package io.diffuse.launcher;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Temporary folders named after the process that owns them ({@code <prefix><pid>-<random>}), so a
 * later process can tell which ones were left behind by a process that no longer exists (killed
 * with SIGKILL, halted, or crashed before its shutdown hooks ran) and remove them.
 */
public final class OwnedTempFolders {
    private OwnedTempFolders() {
    }

    /** A fresh folder {@code <prefix><this pid>-<random>} in {@code parent}. */
    public static Path create(Path parent, String prefix) throws IOException {
        return Files.createTempDirectory(parent, prefix + ProcessHandle.current().pid() + "-");
    }

    /**
     * Removes the folders {@code <prefix><pid>-*} in {@code parent} whose process is gone. Folders of
     * live processes, and names without a pid (another program's, or an older version's), stay.
     *
     * @return the folders removed
     */
    public static List<Path> removeOrphans(Path parent, String prefix) {
        List<Path> removed = new ArrayList<>();
        List<Path> candidates;
        try (Stream<Path> s = Files.list(parent)) {
            candidates = s.filter(p -> p.getFileName().toString().startsWith(prefix)).toList();
        } catch (IOException e) {
            return removed; // an unreadable temp folder: nothing we can clean
        }
        for (Path folder : candidates) {
            long pid = ownerPid(folder.getFileName().toString(), prefix);
            if (pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) == Boolean.FALSE
                    && Files.isDirectory(folder)) {
                deleteTree(folder);
                removed.add(folder);
            }
        }
        return removed;
    }

    /** The pid in {@code <prefix><pid>-<random>}, or -1 when the name has none. */
    static long ownerPid(String name, String prefix) {
        String rest = name.substring(prefix.length());
        int dash = rest.indexOf('-');
        if (dash <= 0) {
            return -1;
        }
        try {
            return Long.parseLong(rest.substring(0, dash));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Deletes {@code root} and everything under it, as far as possible. */
    public static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException | java.io.UncheckedIOException e) {
            // another process removing the same orphan at once, or a file we may not delete: leave the rest
        }
    }
}
