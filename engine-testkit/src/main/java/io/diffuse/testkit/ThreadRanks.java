package io.diffuse.testkit;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.core.distributed.C10dWorld;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.distributed.RankEnvironment;
import io.diffuse.core.distributed.StoreServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.bytedeco.javacpp.Loader;

/**
 * Runs the ranks of a {@link ParallelPlan} as threads of this JVM, each with its own store
 * connection and its own Gloo process groups on loopback (a free port): real collectives, no
 * process start-up. Meant for tests of strategies and executors.
 *
 * <p>Failure propagation: when one rank throws, its groups are destroyed at once, so peers blocked
 * on it fail with "connection closed" instead of waiting for the timeout; the call then rethrows
 * the exception of the rank that failed first (the others' are attached as suppressed). A rank
 * still running after the timeout (plus a grace period) fails the call naming the rank.
 *
 * <p>Tensors made by a body are the body's to scope (PointerScope); returned values are handed
 * back as they are.
 */
public final class ThreadRanks {
    /** Collective and rendezvous timeout unless given: short, so a broken test fails fast. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private ThreadRanks() {
    }

    /** Runs {@code body} on every rank of {@code plan}; returns the results in rank order. */
    public static <T> List<T> run(ParallelPlan plan, Function<ProcessGroups, T> body) {
        return run(plan, DEFAULT_TIMEOUT, body);
    }

    /** As {@link #run(ParallelPlan, Function)} with a collective and rendezvous timeout. */
    public static <T> List<T> run(ParallelPlan plan, Duration timeout, Function<ProcessGroups, T> body) {
        if (plan.world() == 1) {
            Loader.load(org.bytedeco.pytorch.global.torch.class);
            return java.util.Collections.singletonList(body.apply(LocalGroups.create())); // a body may return null
        }
        return runWorlds(plan.world(), timeout, world -> body.apply(world.groups(plan)));
    }

    /**
     * Runs {@code body} on {@code n >= 2} ranks, each given its joined {@link C10dWorld}, for tests that
     * build several layouts ({@link C10dWorld#groups}) on one world.
     */
    public static <T> List<T> runWorlds(int n, Duration timeout, Function<C10dWorld, T> body) {
        Loader.load(org.bytedeco.pytorch.global.torch.class);
        List<T> results = new ArrayList<>(Collections.nCopies(n, null));
        List<Failure> failures = Collections.synchronizedList(new ArrayList<>());
        AtomicLong order = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        try (StoreServer server = StoreServer.start("127.0.0.1", 0, n, timeout)) {
            for (int r = 0; r < n; r++) {
                int rank = r;
                RankEnvironment env = new RankEnvironment(rank, n, rank, "127.0.0.1", server.port());
                Thread t = new Thread(() -> {
                    C10dWorld world = null;
                    try {
                        world = C10dWorld.join(env, "gloo", timeout, false);
                        T result = body.apply(world);
                        synchronized (results) {
                            results.set(rank, result);
                        }
                        world.closeGracefully();
                    } catch (Throwable e) {
                        failures.add(new Failure(rank, order.getAndIncrement(), e));
                        if (world != null) {
                            world.close();
                        }
                    }
                }, "rank-" + rank);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
            long deadline = System.nanoTime() + timeout.toNanos() + Duration.ofSeconds(10).toNanos();
            for (int r = 0; r < n; r++) {
                Thread t = threads.get(r);
                try {
                    t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for rank " + r, e);
                }
                if (t.isAlive()) {
                    throw new AssertionError("rank " + r + " did not finish within " + timeout.toSeconds()
                            + "s (+10s grace); failures so far: " + failures);
                }
            }
        }
        if (!failures.isEmpty()) {
            List<Failure> sorted = new ArrayList<>(failures);
            sorted.sort(Comparator.comparingLong(Failure::order));
            Throwable first = sorted.get(0).error();
            for (Failure f : sorted.subList(1, sorted.size())) {
                first.addSuppressed(new RuntimeException("rank " + f.rank() + " also failed: " + f.error(), f.error()));
            }
            if (first instanceof RuntimeException re) {
                throw re;
            }
            if (first instanceof Error err) {
                throw err;
            }
            throw new RuntimeException("rank " + sorted.get(0).rank() + " failed", first);
        }
        return results;
    }

    private record Failure(int rank, long order, Throwable error) {
        @Override
        public String toString() {
            return "rank " + rank + ": " + error;
        }
    }
}
