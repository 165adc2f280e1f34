package io.diffuse.core.launch;

import io.diffuse.api.DiffuseException;
import io.diffuse.core.distributed.RankEnvironment;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.Loader;

/**
 * Runs a command as N local rank processes ({@code --nproc N}): each child gets the torchrun
 * variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), its output lines are
 * prefixed with {@code [rank k] }, and the launcher returns rank 0's exit code. Unless
 * OMP_NUM_THREADS is set, each rank gets an equal share of the cores as its intra-op threads.
 *
 * <p>If any rank exits non-zero or is killed, the launcher stops the others at once and returns 1
 * after printing one line that names the rank and the cause (exit code or signal); a rank that is
 * stopped (SIGSTOP, a debugger) while its peers fail on it is named as the cause. Once a rank has
 * finished cleanly, the others must finish within the timeout or are stopped the same way.
 *
 * <p>A rendezvous port picked here ({@code master-port} 0) may be taken by another process before
 * rank 0 binds it; the launcher then starts the ranks again on another port (up to 3 times). A server
 * may also ask for its ranks to be restarted after a failure ({@code maxRestarts}).
 *
 * <p>Ranks die with the launcher: each watches a pipe from it ({@link LauncherWatch}), so killing the
 * launcher (even with SIGKILL) halts them before they write anything. Gloo's native
 * {@code [Gloo] Rank k is connected ...} lines, which ranks print on standard output, are moved to
 * standard error, so standard output carries only the command's own output.
 */
public final class LocalLauncher {
    private static final Duration STOP_GRACE = Duration.ofSeconds(3);
    /** How often a port picked here may turn out taken by the time rank 0 binds it (a race with other processes). */
    private static final int PORT_RETRIES = 3;
    /** Set (true) by a host that has unpacked the natives into JavaCPP's cache before it runs commands. */
    public static final String NATIVES_UNPACKED = "io.diffuse.natives.unpacked";
    /** Gloo's connection reports, printed by native code on a rank's standard output. */
    private static final java.util.regex.Pattern GLOO_LINE = java.util.regex.Pattern.compile("^\\[Gloo\\] ");
    /**
     * Gloo prints this to standard output for every process group it connects, whatever the log level
     * (a plain {@code std::cout} in its {@code Context::printConnectivityInfo}, which no libtorch log
     * setting reaches). A group fully connected is no news: it is shown only at INFO and finer; a group
     * with missing peers prints other lines ("is NOT connected to"), which always pass.
     */
    private static final java.util.regex.Pattern GLOO_CONNECTED = java.util.regex.Pattern.compile(
            "^\\[Gloo\\] Rank \\d+ is connected to (\\d+) peer ranks\\. Expected number of connected peer ranks is : (\\d+)$");

    private LocalLauncher() {
    }

    /** Intra-op threads for each of {@code nproc} local ranks: the available cores shared out, at least 1. */
    static int threadsPerRank(int nproc) {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / nproc);
    }

    /**
     * Spawns and supervises the ranks.
     *
     * @param command the rank command line (java, options, class path, main class and the subcommand's arguments)
     * @param nproc number of ranks, at least 2
     * @param masterAddr where rank 0 hosts the rendezvous store
     * @param masterPort its port, or 0 to pick a free one
     * @param timeout how long the remaining ranks may take after one finished
     * @param out receives the ranks' standard output, prefixed
     * @param err receives the ranks' standard error, prefixed, and the launcher's own messages
     * @return rank 0's exit code, or 1 if any rank failed
     */
    public static int launch(List<String> command, int nproc, String masterAddr, int masterPort, Duration timeout,
            PrintWriter out, PrintWriter err) {
        return launch(command, nproc, masterAddr, masterPort, timeout, out, err, Duration.ZERO);
    }

    /**
     * As {@link #launch(List, int, String, int, Duration, PrintWriter, PrintWriter)}; when the
     * launcher itself is told to stop (SIGTERM, Ctrl-C) and {@code stopGrace} is positive, the ranks
     * get SIGTERM and up to {@code stopGrace} to finish (a server drains its work), and the launcher
     * exits 0 if they all exited 0; otherwise (and with zero grace) they are killed at once.
     */
    public static int launch(List<String> command, int nproc, String masterAddr, int masterPort, Duration timeout,
            PrintWriter out, PrintWriter err, Duration stopGrace) {
        return launch(command, nproc, masterAddr, masterPort, timeout, out, err, stopGrace, 0, Duration.ZERO);
    }

    /**
     * As above, and when a rank fails the launcher restarts all ranks up to {@code maxRestarts} times
     * (as torchrun's {@code --max-restarts} does, and with the same variables
     * {@code TORCHELASTIC_RESTART_COUNT} and {@code TORCHELASTIC_MAX_RESTARTS} in the ranks). With a
     * positive {@code stopGrace} (a server), rank 0 first gets up to {@code faultGrace} to notice the
     * failure and exit by itself (it reports the failed job); then the others are stopped.
     */
    public static int launch(List<String> command, int nproc, String masterAddr, int masterPort, Duration timeout,
            PrintWriter out, PrintWriter err, Duration stopGrace, int maxRestarts, Duration faultGrace) {
        return launch(command, nproc, masterAddr, masterPort, timeout, out, err, stopGrace, maxRestarts, faultGrace,
                line -> Map.of());
    }

    /**
     * As above; {@code restartEnvironment} reads each line of rank 0's output and returns what the
     * ranks of every later start (a restart) must find in their environment, e.g. the port a server's
     * rank 0 chose for {@code --port 0}, so that it listens there again. A line of rank 0 with
     * {@link ListenAddress#IN_USE} (its address is held by another process) is not restarted for.
     */
    public static int launch(List<String> command, int nproc, String masterAddr, int masterPort, Duration timeout,
            PrintWriter out, PrintWriter err, Duration stopGrace, int maxRestarts, Duration faultGrace,
            java.util.function.Function<String, Map<String, String>> restartEnvironment) {
        if (nproc < 2) {
            throw new IllegalArgumentException("the launcher runs 2 or more ranks, got " + nproc);
        }
        // Unpack the natives once here: two JVMs unpacking into an empty cache at once can crash (SIGBUS).
        // Not when this process's host has unpacked them already (bin/diffuse does, under a lock, in every
        // process): then the launcher, which only supervises, loads no natives at all.
        if (!Boolean.getBoolean(NATIVES_UNPACKED)) {
            Loader.load(org.bytedeco.pytorch.global.torch.class);
            preloadVideoNatives();
        }
        List<Process> procs = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Thread killer = new Thread(() -> {
            stopping.set(true);
            if (stopGrace.isZero() || stopGrace.isNegative()) {
                procs.forEach(Process::destroyForcibly);
                return;
            }
            // SIGTERM through the handle: Process.destroy() would also close the rank's standard input,
            // which the rank reads as its launcher gone (LauncherWatch) and halts at once.
            procs.forEach(p -> p.toHandle().destroy());
            long deadline = System.nanoTime() + stopGrace.toNanos();
            boolean clean = true;
            for (Process p : procs) {
                try {
                    if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                        p.destroyForcibly();
                        clean = false;
                    } else {
                        clean &= p.exitValue() == 0;
                    }
                } catch (InterruptedException e) {
                    p.destroyForcibly();
                    clean = false;
                }
            }
            out.flush();
            err.flush();
            // A stop the ranks finished cleanly is a clean exit (not 143 for SIGTERM).
            Runtime.getRuntime().halt(clean ? 0 : 1);
        }, "diffuse-rank-killer");
        Runtime.getRuntime().addShutdownHook(killer);
        Map<String, String> announced = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.atomic.AtomicBoolean addressInUse = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.function.Consumer<String> rank0Says = line -> {
            announced.putAll(restartEnvironment.apply(line));
            if (line.contains("cannot listen on") && line.contains(ListenAddress.IN_USE)) {
                addressInUse.set(true);
            }
        };
        try {
            int attempt = 0;
            int portRetries = 0;
            while (true) {
                int port = masterPort == 0 ? freePort(masterAddr) : masterPort;
                List<Thread> pumps = new ArrayList<>();
                procs.clear();
                java.util.concurrent.atomic.AtomicBoolean portTaken = new java.util.concurrent.atomic.AtomicBoolean();
                String failure = runRanks(command, nproc, masterAddr, port, timeout, out, err, procs, pumps, attempt,
                        maxRestarts, portTaken, Map.copyOf(announced), rank0Says);
                if (failure != null && !procs.get(0).isAlive()) {
                    // Rank 0 has exited: its output pumps end at once; read its last lines (the port report
                    // among them) before deciding, or the decision races the pump.
                    joinAll(pumps.subList(0, Math.min(2, pumps.size())));
                }
                if (failure != null && masterPort == 0 && portTaken.get() && portRetries < PORT_RETRIES && !stopping.get()) {
                    // The port was free when picked, but another process bound it before rank 0 did: pick again.
                    stopAll(procs, true);
                    joinAll(pumps);
                    portRetries++;
                    synchronized (err) {
                        err.println("[launcher] port " + port + " was taken before rank 0 could bind it; starting the ranks"
                                + " again on another port");
                        err.flush();
                    }
                    continue;
                }
                if (failure != null && !(stopGrace.isZero() || stopGrace.isNegative()) && procs.get(0).isAlive()) {
                    // A server's rank 0 reports the failed job (and keeps the queued ones for a restart) first.
                    try {
                        procs.get(0).waitFor(faultGrace.toMillis(), TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                // A port held by another process stays held: restarting would only fail the same way again.
                boolean restart = failure != null && attempt < maxRestarts && !stopping.get() && !addressInUse.get()
                        && !Thread.currentThread().isInterrupted();
                if (failure != null) {
                    // With a stop grace (a server), the ranks left get SIGTERM alone so rank 0 can still
                    // report the failed job for a moment; otherwise closing their input halts them at once.
                    stopAll(procs, restart || stopGrace.isZero() || stopGrace.isNegative());
                }
                joinAll(pumps);
                if (failure == null) {
                    int rank0 = procs.get(0).exitValue();
                    return rank0;
                }
                synchronized (err) {
                    err.println(restart ? "[launcher] " + failure + "; restarting the ranks (restart " + (attempt + 1) + " of "
                            + maxRestarts + ")" : "error: " + failure + "; stopped the other ranks");
                    err.flush();
                }
                if (!restart) {
                    return 1;
                }
                attempt++;
            }
        } finally {
            stopAll(procs);
            try {
                Runtime.getRuntime().removeShutdownHook(killer);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    private static void joinAll(List<Thread> pumps) {
        for (Thread t : pumps) {
            try {
                t.join(STOP_GRACE.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Starts the ranks and waits for them; returns null when all exited 0, else what failed.
     * {@code portTaken} is set when rank 0 reports that it could not bind the rendezvous port.
     */
    private static String runRanks(List<String> command, int nproc, String masterAddr, int port, Duration timeout,
            PrintWriter out, PrintWriter err, List<Process> procs, List<Thread> pumps, int attempt, int maxRestarts,
            java.util.concurrent.atomic.AtomicBoolean portTaken, Map<String, String> announced,
            java.util.function.Consumer<String> rank0Says) {
        BlockingQueue<Integer> exits = new LinkedBlockingQueue<>();
        for (int rank = 0; rank < nproc; rank++) {
            ProcessBuilder pb = new ProcessBuilder(command);
            Map<String, String> env = pb.environment();
            env.putAll(new RankEnvironment(rank, nproc, rank, masterAddr, port).toEnvironment());
            env.put(RankEnvironment.LOCAL_LAUNCHER, "1");
            env.putAll(announced);
            // As torchrun tells its workers (a server keeps queued jobs only when a restart follows).
            env.put("TORCHELASTIC_RESTART_COUNT", Integer.toString(attempt));
            env.put("TORCHELASTIC_MAX_RESTARTS", Integer.toString(maxRestarts));
            // As torchrun does: share the cores among the ranks rather than give each all of them
            // (N ranks x all cores oversubscribes the CPU); an explicit OMP_NUM_THREADS wins.
            env.putIfAbsent("OMP_NUM_THREADS", Integer.toString(threadsPerRank(nproc)));
            // The rank watches its standard input, a pipe this process holds open until it ends.
            env.put(LauncherWatch.ENV, "stdin");
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                stopAll(procs);
                throw new DiffuseException("cannot start rank " + rank + " (" + command.get(0) + "): " + e.getMessage(), e);
            }
            procs.add(p);
            String prefix = "[rank " + rank + "] ";
            java.util.function.Consumer<String> watch = rank == 0
                    ? line -> {
                        portTaken.compareAndSet(false, line.contains(io.diffuse.core.distributed.StoreServer.PORT_TAKEN));
                        rank0Says.accept(line);
                    }
                    : line -> { };
            pumps.add(pump(p.getInputStream(), out, err, prefix, rank, watch));
            pumps.add(pump(p.getErrorStream(), err, err, prefix, rank, watch));
            int r = rank;
            p.onExit().thenRun(() -> exits.add(r));
            synchronized (err) {
                err.println("[launcher] rank " + rank + " started, pid " + p.pid());
                err.flush();
            }
        }
        long deadline = Long.MAX_VALUE;
        for (int remaining = nproc; remaining > 0; remaining--) {
            Integer rank;
            try {
                rank = deadline == Long.MAX_VALUE ? exits.take()
                        : exits.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "the launcher was interrupted";
            }
            if (rank == null) {
                List<Integer> running = new ArrayList<>();
                for (int k = 0; k < nproc; k++) {
                    if (procs.get(k).isAlive()) {
                        running.add(k);
                    }
                }
                return (running.size() == 1 ? "rank " + running.get(0) : "ranks " + running)
                        + " did not finish within " + timeout.toSeconds() + "s (diffuse.dist.timeout) after the others";
            }
            int code = procs.get(rank).exitValue();
            if (code != 0) {
                return blame(procs, rank, code);
            }
            if (deadline == Long.MAX_VALUE) {
                deadline = System.nanoTime() + timeout.toNanos();
            }
        }
        return null;
    }

    /**
     * The cause of a failed run whose first exit was {@code rank} with {@code code}: that exit,
     * unless a rank still running is stopped (its peers then fail on timeouts waiting for it, and the
     * first of them to exit is not the one to blame).
     */
    static String blame(List<Process> procs, int rank, int code) {
        List<Integer> stopped = new ArrayList<>();
        for (int k = 0; k < procs.size(); k++) {
            if (procs.get(k).isAlive() && isStopped(procs.get(k).pid())) {
                stopped.add(k);
            }
        }
        if (stopped.isEmpty()) {
            return describeExit(rank, code);
        }
        return (stopped.size() == 1 ? "rank " + stopped.get(0) + " stopped" : "ranks " + stopped + " stopped")
                + " answering (process stopped, e.g. by SIGSTOP or a debugger) and its peers timed out waiting for it ("
                + describeExit(rank, code) + ")";
    }

    /** Whether process {@code pid} is stopped (Linux: state T or t in /proc/pid/stat); false where that cannot be read. */
    public static boolean isStopped(long pid) {
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
            // "pid (command) S ...": the state follows the last ')' (the command may hold parentheses).
            int close = stat.lastIndexOf(')');
            if (close < 0 || close + 2 >= stat.length()) {
                return false;
            }
            char state = stat.charAt(close + 2);
            return state == 'T' || state == 't';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** "rank 2 was killed by signal 9 (SIGKILL)" or "rank 1 exited with code 3". */
    static String describeExit(int rank, int code) {
        // On Unix a child killed by signal s reports 128 + s.
        if (code > 128 && code < 128 + 32) {
            int signal = code - 128;
            String name = switch (signal) {
                case 1 -> "SIGHUP";
                case 2 -> "SIGINT";
                case 3 -> "SIGQUIT";
                case 4 -> "SIGILL";
                case 6 -> "SIGABRT";
                case 7 -> "SIGBUS";
                case 8 -> "SIGFPE";
                case 9 -> "SIGKILL";
                case 11 -> "SIGSEGV";
                case 13 -> "SIGPIPE";
                case 15 -> "SIGTERM";
                default -> "signal " + signal;
            };
            return "rank " + rank + " was killed by signal " + signal + " (" + name + ", exit code " + code + ")";
        }
        return "rank " + rank + " exited with code " + code;
    }

    /** A port that was free a moment ago on {@code host}. */
    /**
     * Unpacks the FFmpeg natives too, when they are on the class path: rank 0 loads them to write the
     * MP4, and a rank unpacking into an empty cache while another JVM does the same can crash as well.
     */
    static void preloadVideoNatives() {
        String[] presets = {"org.bytedeco.ffmpeg.global.avformat", "org.bytedeco.ffmpeg.global.swscale"};
        for (String preset : presets) {
            Class<?> cls;
            try {
                cls = Class.forName(preset, false, LocalLauncher.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError absent) {
                return; // no FFmpeg presets here: nothing to unpack
            }
            try {
                Loader.load(cls);
            } catch (UnsatisfiedLinkError noNatives) {
                return; // presets without their natives: writing an MP4 will report it, launching need not fail
            }
        }
    }

    static int freePort(String host) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new DiffuseException("cannot find a free port on " + host + " (diffuse.dist.master-addr): " + e.getMessage(), e);
        }
    }

    private static void stopAll(List<Process> procs) {
        stopAll(procs, true);
    }

    /** SIGTERM, then SIGKILL after {@link #STOP_GRACE}; {@code closeInput} also closes their input (LauncherWatch halts them). */
    private static void stopAll(List<Process> procs, boolean closeInput) {
        for (Process p : procs) {
            if (closeInput) {
                p.destroy();
            } else {
                p.toHandle().destroy();
            }
        }
        long deadline = System.nanoTime() + STOP_GRACE.toNanos();
        for (Process p : procs) {
            try {
                if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    p.destroyForcibly().waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Copies a rank's stream line by line, prefixed; Gloo's native lines go to {@code diagnostics} instead. */
    private static Thread pump(InputStream in, PrintWriter out, PrintWriter diagnostics, String prefix, int rank,
            java.util.function.Consumer<String> watch) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    watch.accept(line);
                    if (!showConnectedGloo && fullyConnected(line)) {
                        continue;
                    }
                    PrintWriter to = GLOO_LINE.matcher(line).find() ? diagnostics : out;
                    synchronized (to) {
                        to.println(prefix + line);
                        to.flush();
                    }
                }
            } catch (IOException e) {
                // The stream closes when the process is stopped; nothing more to copy.
            } catch (UncheckedIOException e) {
                // same
            }
        }, "rank-" + rank + "-output");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Whether {@code line} is Gloo's report of a fully connected group (see {@link #GLOO_CONNECTED}). */
    static boolean fullyConnected(String line) {
        java.util.regex.Matcher m = GLOO_CONNECTED.matcher(line);
        return m.matches() && m.group(1).equals(m.group(2));
    }

    /** Gloo's connection reports are shown at log level INFO and finer ({@code -Dio.diffuse.log.level}). */
    private static final boolean showConnectedGloo = java.util.List.of("INFO", "DEBUG", "TRACE", "ALL").contains(
            System.getProperty("io.diffuse.log.level", "WARN").trim().toUpperCase(java.util.Locale.ROOT));

    /** This JVM's {@code -Ddiffuse.*} system properties as JVM arguments, so every rank builds the same configuration. */
    public static List<String> diffuseSystemProperties() {
        List<String> args = new ArrayList<>();
        for (String name : new java.util.TreeSet<>(System.getProperties().stringPropertyNames())) {
            if (name.startsWith("diffuse.")) {
                args.add("-D" + name + "=" + System.getProperty(name));
            }
        }
        return args;
    }
}
