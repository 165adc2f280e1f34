package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;

/**
 * The c10d TCPStore server every rank meets at (hosted by rank 0, or by a test harness that runs
 * ranks as threads). Port 0 binds a free port; {@link #port()} tells which.
 */
public final class StoreServer implements AutoCloseable {
    /** How the failure to bind the store's port starts (the local launcher then tries another port). */
    public static final String PORT_TAKEN = "cannot start the rendezvous store on";

    private final TCPStore store;
    private final int port;

    private StoreServer(TCPStore store, int port) {
        this.store = store;
        this.port = port;
    }

    /** Starts a server on {@code host:port} for {@code worldSize} ranks; returns without waiting for them. */
    public static StoreServer start(String host, int port, int worldSize, Duration timeout) {
        TCPStoreOptions opts = new TCPStoreOptions();
        opts.port((short) port);
        opts.isServer(true);
        opts.numWorkers(new SizeTPointer(1).put(worldSize));
        opts.waitWorkers(false);
        opts.timeout(new Milliseconds(timeout.toMillis()));
        try {
            TCPStore store = new TCPStore(host, opts);
            return new StoreServer(store, store.getPort() & 0xffff);
        } catch (RuntimeException e) {
            throw new DiffuseException(PORT_TAKEN + " " + host + ":" + port + ": "
                    + firstLine(e) + " (is the port in use? set MASTER_PORT or diffuse.dist.master-port, or 0 for a free one)", e);
        }
    }

    /**
     * A new client connection to a store at {@code host:port}, retrying until {@code timeout}. The
     * waiting for rank 0 to listen happens here, under one deadline: c10d's own client retries once
     * more after its first full-length attempt, so alone it gave up only after about twice the timeout.
     */
    static TCPStore connect(String host, int port, int worldSize, Duration timeout) {
        awaitListening(host, port, timeout);
        TCPStoreOptions opts = new TCPStoreOptions();
        opts.port((short) port);
        opts.isServer(false);
        opts.numWorkers(new SizeTPointer(1).put(worldSize));
        opts.waitWorkers(false);
        opts.timeout(new Milliseconds(timeout.toMillis()));
        try {
            return new TCPStore(host, opts);
        } catch (RuntimeException e) {
            throw new DiffuseException("rendezvous with rank 0 at " + host + ":" + port + " failed within "
                    + timeout.toSeconds() + "s (diffuse.dist.timeout): " + firstLine(e)
                    + "; check MASTER_ADDR/MASTER_PORT and that rank 0 is running", e);
        }
    }

    /** Returns once something accepts connections at {@code host:port}; throws when {@code timeout} passes first. */
    private static void awaitListening(String host, int port, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new DiffuseException("cannot resolve rank 0's host '" + host + "' (MASTER_ADDR, diffuse.dist.master-addr)");
        }
        while (true) {
            long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            String reason;
            try (Socket probe = new Socket()) {
                probe.connect(address, (int) Math.max(1, Math.min(remainingMs, 1000)));
                return;
            } catch (IOException e) {
                reason = e.getMessage() == null ? e.toString() : e.getMessage();
            }
            remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (remainingMs <= 0) {
                throw new DiffuseException("rendezvous with rank 0 at " + host + ":" + port + " failed within "
                        + timeout.toSeconds() + "s (diffuse.dist.timeout): nothing accepted a connection there (" + reason
                        + "); check MASTER_ADDR/MASTER_PORT and that rank 0 is running");
            }
            try {
                Thread.sleep(Math.min(100, remainingMs));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DiffuseException("interrupted while waiting for rank 0 at " + host + ":" + port);
            }
        }
    }

    /** The bound port. */
    public int port() {
        return port;
    }

    @Override
    public void close() {
        store.close();
    }

    static String firstLine(Throwable e) {
        String m = e.getMessage();
        return m == null ? e.toString() : m.lines().findFirst().orElse(m);
    }
}
