package io.diffuse.core.video;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The outputs of one run, all or nothing: each output is first written complete under a hidden
 * staging name beside its target, and only when every one is complete are they renamed into place
 * ({@link #commit}). A run that fails leaves no staging file and none of its outputs. So does a JVM
 * stopped gracefully (Ctrl-C, SIGTERM) before or during the commit, once {@link #abandonOpenOnStop} has
 * registered the shutdown hook that removes the staged files and any output a run already renamed. A
 * frame folder replaces the frames of an earlier run ({@code frame-*.png} not written by this run are
 * removed), so a shorter run leaves no stale frames.
 */
public final class OutputTransaction implements AutoCloseable {
    private static final Set<OutputTransaction> OPEN = ConcurrentHashMap.newKeySet();
    private static final java.util.concurrent.atomic.AtomicBoolean HOOKED = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Registers, once, the shutdown hook that abandons every open transaction when the JVM stops gracefully.
     * A command calls it at start, before a stop can begin: the JVM refuses new hooks once it is stopping,
     * and when this class registered its hook on first use, a server's first job after a SIGTERM failed
     * with an ExceptionInInitializerError as it began to write (issue 19). A server does not call it: its
     * drain finishes the running job's outputs, and calls {@link #abandonOpen} if it gives up waiting.
     */
    public static void abandonOpenOnStop() {
        if (HOOKED.compareAndSet(false, true)) {
            Runtime.getRuntime().addShutdownHook(new Thread(OutputTransaction::abandonOpen, "diffuse-output-cleanup"));
        }
    }

    /** Abandons every open transaction: removes what they staged and what they already moved into place. */
    public static void abandonOpen() {
        OPEN.forEach(OutputTransaction::abandon);
    }

    private record Staged(Path staging, Path target, boolean directory) {
    }

    private final List<Staged> staged = new ArrayList<>();
    private final List<Path> committed = new ArrayList<>();
    private volatile boolean done;

    public OutputTransaction() {
        OPEN.add(this);
    }

    /** Writes a file output: {@code writer} gets the staging path to write the complete file to. */
    public void file(Path target, AtomicOutput.Writer writer) {
        Path absolute = target.toAbsolutePath();
        if (Files.isDirectory(absolute)) {
            throw new DiffuseException("output " + target + " is a directory; give a file name");
        }
        Path staging = AtomicOutput.sibling(absolute, "staging");
        synchronized (staged) {
            staged.add(new Staged(staging, absolute, false));
        }
        try {
            writer.write(staging);
        } catch (IOException e) {
            throw new DiffuseException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Writes a folder output: {@code writer} gets an empty staging folder to write every file into. */
    public void directory(Path target, AtomicOutput.Writer writer) {
        Path absolute = target.toAbsolutePath();
        if (Files.exists(absolute) && !Files.isDirectory(absolute)) {
            throw new DiffuseException("output " + target + " exists and is a file; give a directory path");
        }
        Path staging = AtomicOutput.sibling(absolute, "staging");
        synchronized (staged) {
            staged.add(new Staged(staging, absolute, true));
        }
        try {
            Files.createDirectory(staging);
            writer.write(staging);
        } catch (IOException e) {
            throw new DiffuseException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Renames every staged output into place; returns the targets. */
    public List<Path> commit() {
        try {
            List<Staged> all;
            synchronized (staged) {
                all = List.copyOf(staged);
            }
            for (Staged s : all) {
                if (!s.directory()) {
                    AtomicOutput.move(s.staging(), s.target());
                } else {
                    Files.createDirectories(s.target());
                    Set<String> fresh;
                    try (Stream<Path> files = Files.list(s.staging())) {
                        fresh = files.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
                    }
                    try (Stream<Path> old = Files.list(s.target())) {
                        for (Path p : old.filter(p -> isFrame(p) && !fresh.contains(p.getFileName().toString())).toList()) {
                            Files.delete(p); // a frame of an earlier, longer run
                        }
                    }
                    for (String name : fresh.stream().sorted().toList()) {
                        AtomicOutput.move(s.staging().resolve(name), s.target().resolve(name));
                    }
                    Files.delete(s.staging());
                }
                synchronized (staged) {
                    committed.add(s.target());
                }
            }
            done = true;
            return List.copyOf(committed);
        } catch (IOException e) {
            abandon();
            throw new DiffuseException("cannot move the outputs into place: " + e.getMessage(), e);
        } finally {
            OPEN.remove(this);
        }
    }

    private static boolean isFrame(Path p) {
        String n = p.getFileName().toString();
        return n.startsWith("frame-") && n.endsWith(".png");
    }

    /**
     * Removes what was staged (with the writers' own temporaries beside it) and, when the commit did not
     * finish, what it already moved into place. Called from a shutdown hook while a writer may still be
     * running: once a staging folder is gone the writer's next file fails, so a few passes leave nothing.
     */
    void abandon() {
        if (done) {
            return;
        }
        for (int pass = 0; pass < 40; pass++) {
            List<Path> doomed = new ArrayList<>();
            synchronized (staged) {
                staged.forEach(s -> doomed.add(s.staging()));
                doomed.addAll(committed); // a commit still running adds to it
            }
            boolean left = false;
            for (Path p : doomed) {
                AtomicOutput.deleteRecursively(p);
                for (Path sibling : temporariesOf(p)) {
                    AtomicOutput.deleteRecursively(sibling);
                }
                left |= Files.exists(p) || !temporariesOf(p).isEmpty();
            }
            if (!left) {
                break;
            }
            try {
                Thread.sleep(25);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        done = true;
    }

    /**
     * Temporary files a writer made beside {@code path}: AtomicOutput's ".NAME.tmp-..." or a writer's
     * "NAME.<random>.tmp" (staging names are unique, so anything starting with one belongs to this run).
     */
    private static List<Path> temporariesOf(Path path) {
        Path parent = path.getParent();
        String name = path.getFileName().toString();
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith("." + name) || (n.startsWith(name) && !n.equals(name));
            }).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Without a commit: removes every staged output. */
    @Override
    public void close() {
        abandon();
        OPEN.remove(this);
    }
}
