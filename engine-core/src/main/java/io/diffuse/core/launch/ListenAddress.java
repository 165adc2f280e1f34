package io.diffuse.core.launch;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The address a server is to listen on, checked before any rank starts: a port another process
 * holds is one line naming the address and, where Linux lets this user see it, the process
 * ({@code /proc/net/tcp*} gives the listening socket's inode, {@code /proc/<pid>/fd} its owner). A
 * restart cannot free such a port, so the launcher does not restart ranks for it.
 */
public final class ListenAddress {
    /** In every message about a port held by another process; the launcher recognises it in rank 0's output. */
    public static final String IN_USE = "the address is in use";

    private ListenAddress() {
    }

    /**
     * Binds {@code host:port} for a moment, as the server will (address reuse on, so a port in
     * TIME_WAIT is not taken), and lets it go.
     *
     * @throws DiffuseException (one line) when the address is in use or cannot be bound
     */
    public static void requireFree(String host, int port) {
        if (port == 0) {
            return; // any free port
        }
        InetSocketAddress address;
        try {
            address = host == null || host.isBlank() ? new InetSocketAddress(port)
                    : new InetSocketAddress(InetAddress.getByName(host.trim()), port);
        } catch (UnknownHostException e) {
            throw new DiffuseException("cannot listen on " + host + ":" + port + " (diffuse.serve.host): unknown host");
        }
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(address);
        } catch (BindException e) {
            throw inUse(host, port, e);
        } catch (IOException e) {
            throw new DiffuseException("cannot listen on " + host + ":" + port + " (diffuse.serve.host/port): " + e.getMessage(), e);
        }
    }

    /** The one-line error for {@code host:port} held by another process (or not bindable: permission, address). */
    public static DiffuseException inUse(String host, int port, BindException cause) {
        String why = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
        if (!why.contains("in use")) {
            return new DiffuseException("cannot listen on " + host + ":" + port + " (diffuse.serve.host/port): "
                    + cause.getMessage(), cause);
        }
        String by = holder(port).map(pid -> " by pid " + pid + command(pid)).orElse("");
        return new DiffuseException("cannot listen on " + host + ":" + port + ": " + IN_USE + by
                + "; stop it or choose another --port (0 = any free port)", cause);
    }

    /** The pid of a process of this user listening on TCP {@code port}, from /proc (Linux); empty where it cannot be told. */
    static Optional<Long> holder(int port) {
        Set<String> inodes = new HashSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try {
                for (String line : Files.readAllLines(Path.of(table))) {
                    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                    String[] f = line.trim().split("\\s+");
                    if (f.length < 10 || !f[3].equals("0A")) {
                        continue; // not a LISTEN socket (or the header)
                    }
                    int colon = f[1].lastIndexOf(':');
                    if (colon > 0 && Integer.parseInt(f[1].substring(colon + 1), 16) == port && !f[9].equals("0")) {
                        inodes.add("socket:[" + f[9] + "]");
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no /proc here (not Linux), or a format this code does not know
            }
        }
        if (inodes.isEmpty()) {
            return Optional.empty();
        }
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
                .chars().allMatch(Character::isDigit))) {
            for (Path proc : procs) {
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        try {
                            if (inodes.contains(Files.readSymbolicLink(fd).toString())) {
                                return Optional.of(Long.parseLong(proc.getFileName().toString()));
                            }
                        } catch (IOException | UnsupportedOperationException e) {
                            // closed meanwhile
                        }
                    }
                } catch (IOException | SecurityException e) {
                    // another user's process, or gone
                }
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static String command(long pid) {
        try {
            return " (" + Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip() + ")";
        } catch (IOException e) {
            return "";
        }
    }
}
