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
        Path temporary = temporarySibling(absolute);
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
     * Writes a directory of files atomically: the files are written to a temporary sibling directory and,
     * once all are complete, renamed one by one into {@code targetDirectory} (created if missing; files of
     * the same names are replaced). A failure while writing leaves nothing in {@code targetDirectory}.
     *
     * @param targetDirectory the final directory
     * @param writer writes all files into the temporary directory it is given
     * @return {@code targetDirectory}
     * @throws DiffuseException when writing fails; nothing is left behind
     */
    public static Path writeDirectory(Path targetDirectory, Writer writer) {
        Path absolute = targetDirectory.toAbsolutePath();
        if (Files.exists(absolute) && !Files.isDirectory(absolute)) {
            throw new DiffuseException("frame directory " + targetDirectory + " exists and is a file; give a directory path");
        }
        Path temporary = temporarySibling(absolute);
        try {
            Files.createDirectory(temporary);
            writer.write(temporary);
            Files.createDirectories(absolute);
            try (Stream<Path> files = Files.list(temporary)) {
                for (Path file : (Iterable<Path>) files.sorted()::iterator) {
                    move(file, absolute.resolve(file.getFileName().toString()));
                }
            }
            Files.delete(temporary);
            return targetDirectory;
        } catch (IOException | RuntimeException | Error e) {
            deleteRecursively(temporary);
            if (e instanceof DiffuseException) {
                throw (DiffuseException) e;
            }
            throw new DiffuseException("cannot write frames to " + targetDirectory + ": " + e.getMessage(), e);
        }
    }

    private static Path temporarySibling(Path absolute) {
        Path parent = absolute.getParent();
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new DiffuseException("cannot create output directory " + parent + ": " + e.getMessage(), e);
        }
        // Hidden, unique and recognisable, so a crash (kill -9) leaves an obvious leftover, never the target name.
        return parent.resolve("." + absolute.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(System.nanoTime()));
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteRecursively(Path path) {
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
