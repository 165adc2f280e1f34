package io.diffuse.core.video;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes an output file or directory atomically: the content goes to a temporary name in the same
 * directory (so the final rename stays on one file system) and is renamed into place only once complete.
 * When writing fails, the temporary file is deleted and the target is left as it was, so a failed run
 * never leaves a half-written output behind.
 */
public final class AtomicOutput {

    /** Writes the content of one output, given the temporary path to write to. */
    @FunctionalInterface
    public interface Writer {
        /**
         * Writes the complete output to {@code temporary}.
         *
         * @param temporary the path to write; its parent directory exists
         * @throws IOException when writing fails; the temporary path is then removed
         */
        void write(Path temporary) throws IOException;
    }

    private AtomicOutput() {
    }

    /**
     * Writes {@code target} atomically through {@code writer}; an existing file at {@code target} is
     * replaced only once the new content is complete.
     *
     * @param target the final path
     * @param writer writes the content to a temporary sibling of {@code target}
     * @return {@code target}
     * @throws DiffuseException when the directory cannot be created or writing fails; nothing is left behind
     */
    public static Path write(Path target, Writer writer) {
        Path absolute = target.toAbsolutePath();
        if (Files.isDirectory(absolute)) {
            throw new DiffuseException("output " + target + " is a directory; give a file name such as "
                    + absolute.resolve("video.mp4"));
        }
        Path temporary = sibling(absolute, "tmp");
        try {
            writer.write(temporary);
            move(temporary, absolute);
            return target;
        } catch (IOException | RuntimeException | Error e) {
            deleteRecursively(temporary);
            if (e instanceof DiffuseException) {
                throw (DiffuseException) e;
            }
            throw new DiffuseException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /**
     * A hidden, unique, recognisable sibling of {@code absolute}: {@code .NAME.KIND-PID-NANOS} (its
     * parent created), so a crash leaves an obvious leftover, never the target name.
     */
    static Path sibling(Path absolute, String kind) {
        Path parent = absolute.getParent();
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new DiffuseException("cannot create output directory " + parent + ": " + e.getMessage(), e);
        }
        // Hidden, unique and recognisable, so a crash (kill -9) leaves an obvious leftover, never the target name.
        return parent.resolve("." + absolute.getFileName() + "." + kind + "-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(System.nanoTime()));
    }

    static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static void deleteRecursively(Path path) {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | RuntimeException ignored) {
            // best effort: the original failure is what the caller needs to see
        }
    }
}
