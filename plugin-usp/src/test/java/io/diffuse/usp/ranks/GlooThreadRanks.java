package io.diffuse.usp.ranks;

import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;

/**
 * Runs the ranks of a {@link ParallelPlan} as threads of this JVM, each with its own TCPStore client
 * and Gloo process groups laid out as {@link ProcessGroups} documents (ulysses contiguous, ring
 * strided, sequence ring-major, cfg pairing the sequence blocks, vae the first ranks).
 */
public final class GlooThreadRanks {
    private static final long TIMEOUT_MS = 60_000;

    private GlooThreadRanks() {
    }

    /** Runs {@code body} on every rank; returns the results in global-rank order. */
    public static <T> List<T> run(ParallelPlan plan, Function<ProcessGroups, T> body) {
        int port = freePort();
        ExecutorService pool = Executors.newFixedThreadPool(plan.world());
        // The server listens before any rank starts, so no client waits out a connect retry.
        try (PointerScope scope = new PointerScope()) {
            store(port, true);
            List<Future<T>> futures = new ArrayList<>();
            for (int rank = 0; rank < plan.world(); rank++) {
                int r = rank;
                futures.add(pool.submit(() -> runRank(plan, r, port, body)));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(TIMEOUT_MS * 2, TimeUnit.MILLISECONDS));
            }
            return results;
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new IllegalStateException("ranks did not finish", e);
        } finally {
            pool.shutdownNow();
        }
    }

    private static <T> T runRank(ParallelPlan plan, int rank, int port, Function<ProcessGroups, T> body) {
        try (PointerScope scope = new PointerScope()) {
            // One store client per rank. The presets turn a Java-constructed Store into a c10
            // intrusive_ptr from its raw pointer, which may happen only once per object; a Store
            // returned by native code carries its intrusive_ptr and can be wrapped any number of times.
            Store shared = new PrefixStore("diffuse", store(port, false)).getUnderlyingStore();
            Supplier<Store> store = () -> shared;
            Layout layout = new Layout(plan, rank);
            GlooGroup world = group(store, "world", rank, range(0, plan.world(), 1));
            GlooGroup ulysses = group(store, "ulysses" + layout.sequenceBase + "_" + layout.ringRank,
                    rank, range(layout.sequenceBase + layout.ringRank * plan.ulysses(), plan.ulysses(), 1));
            GlooGroup ring = group(store, "ring" + layout.sequenceBase + "_" + layout.ulyssesRank, rank,
                    range(layout.sequenceBase + layout.ulyssesRank, plan.ring(), plan.ulysses()));
            GlooGroup sequence = group(store, "sp" + layout.sequenceBase, rank,
                    range(layout.sequenceBase, plan.sequence(), 1));
            GlooGroup cfg = group(store, "cfg" + layout.inBlock, rank, range(layout.inBlock, plan.cfg(), plan.sequence()));
            boolean inVae = rank < plan.vae();
            GlooGroup vae = inVae ? group(store, "vae", rank, range(0, plan.vae(), 1))
                    : group(store, "vae_alone" + rank, rank, List.of(rank));
            ProcessGroups groups = new ProcessGroups() {
                public ParallelPlan plan() {
                    return plan;
                }

                public ProcessGroup world() {
                    return world;
                }

                public ProcessGroup ulysses() {
                    return ulysses;
                }

                public ProcessGroup ring() {
                    return ring;
                }

                public ProcessGroup sequence() {
                    return sequence;
                }

                public ProcessGroup cfg() {
                    return cfg;
                }

                public ProcessGroup vae() {
                    return vae;
                }

                public boolean inVaeGroup() {
                    return inVae;
                }
            };
            T result = body.apply(groups);
            world.barrier();
            return result;
        }
    }

    private record Layout(int sequenceBase, int inBlock, int ringRank, int ulyssesRank) {
        Layout(ParallelPlan plan, int rank) {
            this(rank - rank % plan.sequence(), rank % plan.sequence(), rank % plan.sequence() / plan.ulysses(),
                    rank % plan.sequence() % plan.ulysses());
        }
    }

    private static List<Integer> range(int start, int count, int stride) {
        List<Integer> ranks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ranks.add(start + i * stride);
        }
        return ranks;
    }

    private static GlooGroup group(Supplier<Store> store, String name, int globalRank, List<Integer> members) {
        ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(new Milliseconds(TIMEOUT_MS));
        options.devices(new GlooDeviceVector(ProcessGroupGloo.createDeviceForHostname("127.0.0.1")));
        int groupRank = members.indexOf(globalRank);
        ProcessGroupGloo backend = new ProcessGroupGloo(new PrefixStore(name, store.get()), groupRank, members.size(), options);
        return new GlooGroup(name, backend, groupRank, members);
    }

    private static Store store(int port, boolean server) {
        TCPStoreOptions options = new TCPStoreOptions();
        options.port((short) port);
        options.isServer(server);
        options.waitWorkers(false);
        options.useLibUV(false);
        options.timeout(new Milliseconds(TIMEOUT_MS));
        return new TCPStore("127.0.0.1", options);
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
