package io.diffuse.core.serve;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's output folder as storage: every file a job owns is named after its id
 * ({@code <id>.mp4}, {@code <id>.safetensors}, {@code <id>-input.<ext>}); an upload is first written
 * under a hidden staging name owned by its request ({@link Upload}) and becomes the job's only once
 * the job is admitted; what no job owns is swept at start. Write failures are server faults
 * ({@link #fault}: 507 when the folder is full, else 503), never a client's 400, and the messages
 * name no server path.
 */
final class OutputFolder {
    private static final Logger LOG = LoggerFactory.getLogger(OutputFolder.class);
    /** A server-named file: a job's output or input, or a hidden leftover of one (staging, temporary). */
    private static final Pattern JOB_FILE = Pattern.compile("\\.?(video_[0-9a-f]{32})[.-].*");
    /** What a probe writes: a job record is about a kilobyte; a folder that cannot take this is full. */
    private static final byte[] PROBE = new byte[4096];

    private final Path dir;
    private final Path records;
    /** The reason the last probe failed (null: it passed), so that a polled /ready logs a change, not every probe. */
    private volatile String lastProblem;

    OutputFolder(Path dir, Path records) {
        this.dir = dir;
        this.records = records;
    }

    /** A new request's upload slot (nothing is written until {@link Upload#staging} is used). */
    Upload upload(String id) {
        return new Upload(id);
    }

    /**
     * An {@code input_reference} of one request: written to a hidden staging name, moved to the
     * job's {@code <id>-input.<ext>} when the job is admitted ({@link #commit}), and kept once the
     * job's record is saved ({@link #keep}). Closing it removes whatever was not kept, so every
     * refusal (bad image, bad field, full queue, a record that cannot be saved) leaves no file.
     */
    final class Upload implements AutoCloseable {
        private final String id;
        private Path staging;
        private Path target;
        private boolean committed;
        private boolean kept;

        private Upload(String id) {
            this.id = id;
        }

        /** The staging path to write the upload to; a second upload in one request is refused. */
        Path staging(String ext) {
            if (staging != null) {
                throw ApiError.invalid("input_reference", "input_reference is given more than once; send one image");
            }
            staging = dir.resolve("." + id + "-input." + ext + ".upload");
            target = dir.resolve(id + "-input." + ext);
            return staging;
        }

        /** Where the job reads the image from once admitted; null without an upload. */
        Path target() {
            return target;
        }

        /** Moves the staged upload to the job's name (no-op without an upload). */
        void commit() {
            if (staging == null) {
                return;
            }
            try {
                move(staging, target);
                committed = true;
            } catch (IOException e) {
                throw fault("the upload is not kept", e);
            }
        }

        void keep() {
            kept = true;
        }

        @Override
        public void close() {
            if (staging == null || kept) {
                return;
            }
            delete(staging);
            if (committed) {
                delete(target);
            }
        }
    }

    /** A server fault of the output folder as the client sees it: 507 when full, else 503; no server path. */
    static ApiError fault(String what, IOException e) {
        String reason = reasonOf(e);
        boolean full = isFull(reason);
        return new ApiError(full ? 507 : 503, "server_error", null, full ? "storage_full" : "storage_unavailable", what
                + ": the server's output folder " + (full ? "is full" : "cannot be written") + " (" + reason + ")");
    }

    private static boolean isFull(String reason) {
        String r = reason.toLowerCase(java.util.Locale.ROOT);
        return r.contains("no space left") || r.contains("quota") || r.contains("file too large");
    }

    /** The operating system's reason without the path (FileSystemException puts the path first). */
    static String reasonOf(IOException e) {
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        if (e instanceof FileSystemException) {
            return e.getClass().getSimpleName();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /** Throws the {@link #fault} when a small file cannot be written in the output folder or the records folder. */
    void requireWritable(String what) {
        for (Path d : List.of(dir, records)) {
            Path probe = null;
            try {
                Files.createDirectories(d);
                probe = Files.createTempFile(d, ".diffuse-storage-probe-", ".tmp");
                Files.write(probe, PROBE);
            } catch (IOException e) {
                String reason = reasonOf(e);
                if (!reason.equals(lastProblem)) {
                    LOG.warn("the output folder {} cannot be written: {}; new jobs are refused", d, e.toString());
                }
                lastProblem = reason;
                throw fault(what, e);
            } finally {
                if (probe != null) {
                    delete(probe);
                }
            }
        }
        if (lastProblem != null) {
            LOG.info("the output folder {} can be written again", dir);
            lastProblem = null;
        }
    }

    /** Why the folder cannot take new jobs (the code and message of its {@link #fault}), or null when it can. */
    ApiError problem() {
        try {
            requireWritable("new jobs are refused");
            return null;
        } catch (ApiError e) {
            return e;
        }
    }

    /** Every file a job owns (named after its id) that exists. */
    List<Path> filesOf(String id) {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, id + "*")) {
            s.forEach(files::add);
        } catch (IOException e) {
            LOG.debug("listing {}: {}", id, e.toString());
        }
        return files;
    }

    /**
     * Deletes the job's files, then its record (so a record always names files that may still be
     * there, never the reverse); stops at the first that cannot be deleted.
     *
     * @return null when everything is gone, else what could not be deleted and why (no server path)
     */
    String deleteJob(String id, JobStore store) {
        for (Path p : filesOf(id)) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.warn("{}: cannot delete {}: {}", id, p, e.toString());
                return "cannot delete " + p.getFileName() + " (" + reasonOf(e) + ")";
            }
        }
        try {
            store.delete(id);
        } catch (IOException e) {
            LOG.warn("{}: cannot delete its record under {}: {}", id, records, e.toString());
            return "its files are deleted but its record is not (" + reasonOf(e) + ")";
        }
        return null;
    }

    /** The bytes of every regular file under the output folder (links not followed): what the disk budget counts. */
    long bytes() {
        long[] total = {0};
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        total[0] += attrs.size();
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    return FileVisitResult.CONTINUE; // gone meanwhile, or unreadable
                }
            });
        } catch (IOException e) {
            LOG.debug("sizing {}: {}", dir, e.toString());
        }
        return total[0];
    }

    static long sizeOf(List<Path> files) {
        long n = 0;
        for (Path p : files) {
            try {
                n += Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).size();
            } catch (IOException e) {
                // gone meanwhile
            }
        }
        return n;
    }

    /**
     * Opens a file the server wrote for reading: a regular file, not a link, not hard-linked elsewhere.
     *
     * @throws NoSuchFileException when it is gone
     * @throws IOException when it is not such a file (a link, a folder, a device)
     */
    static SeekableByteChannel openServerFile(Path file) throws IOException {
        SeekableByteChannel channel = Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Object links = Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
            if (!a.isRegularFile() || (links instanceof Integer n && n != 1)) {
                throw new IOException("not a regular file the server wrote");
            }
            return channel;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Removes what no job owns: hidden staging and temporary leftovers of a stopped server (uploads,
     * half-written records and outputs, admin defaults being saved), and server-named files whose job
     * has no record. Called at start, before any request or job runs.
     *
     * @param owned the ids of every saved record
     */
    void sweep(Set<String> owned) {
        List<Path> leftovers = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(p -> {
                String name = p.getFileName().toString();
                Matcher m = JOB_FILE.matcher(name);
                if ((m.matches() && (name.startsWith(".") || !owned.contains(m.group(1))))
                        || name.equals(".admin-defaults.json.tmp") || name.startsWith(".diffuse-storage-probe-")
                        || name.startsWith(".diffuse-write-check-")) {
                    leftovers.add(p);
                }
            });
        } catch (IOException e) {
            LOG.warn("cannot list the output folder {} to sweep it: {}", dir, e.toString());
        }
        if (Files.isDirectory(records)) {
            try (DirectoryStream<Path> s = Files.newDirectoryStream(records, ".*.tmp")) {
                s.forEach(leftovers::add);
            } catch (IOException e) {
                LOG.debug("sweeping {}: {}", records, e.toString());
            }
        }
        long bytes = 0;
        int removed = 0;
        for (Path p : leftovers) {
            long size = sizeOf(List.of(p));
            if (deleteTree(p)) {
                bytes += size;
                removed++;
            }
        }
        if (removed > 0) {
            LOG.info("removed {} file(s) of {} bytes from {} that no job owns (uploads of refused requests, leftovers"
                    + " of a stopped server)", removed, bytes, dir);
        }
    }

    private static boolean deleteTree(Path p) {
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot remove the leftover {}: {}", p, e.toString());
            return false;
        }
    }

    static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", p, e.toString());
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
