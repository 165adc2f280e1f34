package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.TCPStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's membership of a c10d world: the rendezvous through rank 0's TCPStore, the world group,
 * and the sub-groups of each {@link ParallelPlan}, built once per layout and cached.
 *
 * <p>Each rank opens one store connection; every group meets over it under its own key prefix
 * {@code diffuse/<layout>/<group name>}, so only its members meet there and ranks outside a group
 * never wait for it. (A connection per group, as before, sometimes stalled group creation for about
 * 5 s with 4 or more ranks.) The JavaCPP trap this works around: a store constructed in Java can be
 * handed to C++ only once (wrapping it a second time fails an intrusive_ptr assertion and kills the
 * JVM), while a store returned from C++ can be wrapped any number of times; so the connection is
 * wrapped once and the native handle {@link PrefixStore#getUnderlyingStore()} returns is what each
 * group's PrefixStore wraps. Every rank must ask for the same layouts in the same order, as with any
 * collective.
 */
public final class C10dWorld implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(C10dWorld.class);

    private final RankEnvironment env;
    private final String backend;
    private final Duration timeout;
    private final StoreServer server;
    /** Owns this rank's one store connection (C++ holds it from here on). */
    private final PrefixStore connectionOwner;
    /** The connection as a native-returned handle, safe to wrap once per group. */
    private final Store connection;
    private final C10dProcessGroup world;
    private final List<C10dProcessGroup> created = new ArrayList<>();
    private final Map<ParallelPlan, PlanGroups> cache = new HashMap<>();
    private C10dProcessGroup control;
    private boolean closed;

    private C10dWorld(RankEnvironment env, String backend, Duration timeout, StoreServer server) {
        this.env = env;
        this.backend = backend;
        this.timeout = timeout;
        this.server = server;
        TCPStore client = StoreServer.connect(env.masterAddr(), env.masterPort(), env.worldSize(), timeout);
        this.connectionOwner = new PrefixStore("diffuse", client);
        client.deallocate(false); // the PrefixStore's intrusive_ptr owns the client now
        this.connection = connectionOwner.getUnderlyingStore();
        try {
            List<Integer> all = IntStream.range(0, env.worldSize()).boxed().toList();
            this.world = newGroup("world", "diffuse/world", all, env.rank());
        } catch (RuntimeException e) {
            closeGroups();
            releaseConnection();
            throw e;
        }
    }

    /**
     * Joins the world described by {@code env}; rank 0 hosts the store when {@code hostStore} (a
     * launcher-spawned or torchrun rank), otherwise every rank is a client of a store someone else
     * started (ranks run as threads). Blocks until every rank arrived or {@code timeout} passed.
     *
     * @param backend "gloo" or "nccl"
     */
    public static C10dWorld join(RankEnvironment env, String backend, Duration timeout, boolean hostStore) {
        if (!backend.equals("gloo") && !backend.equals("nccl")) {
            throw new DiffuseException("unknown c10d backend '" + backend + "' (diffuse.dist.backend); allowed: gloo, nccl");
        }
        StoreServer server = hostStore && env.isMaster()
                ? StoreServer.start(env.masterAddr(), env.masterPort(), env.worldSize(), timeout)
                : null;
        try {
            return new C10dWorld(env, backend, timeout, server);
        } catch (RuntimeException e) {
            if (server != null) {
                server.close();
            }
            throw e;
        }
    }

    /** This rank's position. */
    public RankEnvironment environment() {
        return env;
    }

    /** The group of all ranks. */
    public ProcessGroup world() {
        return world;
    }

    /**
     * A group of all ranks on Gloo over CPU tensors, whatever the data plane's backend: a long-running
     * engine's orders (jobs, per-step stop decisions, rank reports) go here, so they neither queue
     * behind nor count as the data plane's traffic and need no device. Built collectively on first use.
     */
    public synchronized ProcessGroup controlGroup() {
        if (closed) {
            throw new DiffuseException("the distributed runtime of rank " + env.rank() + " was shut down");
        }
        if (control == null) {
            List<Integer> all = new ArrayList<>();
            for (int r = 0; r < env.worldSize(); r++) {
                all.add(r);
            }
            control = newGroup("control", "diffuse/control", all, env.rank(), "gloo");
        }
        return control;
    }

    /** The groups of {@code plan} for this rank, built on first use (collectively) and cached. */
    public synchronized ProcessGroups groups(ParallelPlan plan) {
        if (closed) {
            throw new DiffuseException("the distributed runtime of rank " + env.rank() + " was shut down");
        }
        if (plan.world() != env.worldSize()) {
            throw new DiffuseException("parallel plan " + plan + " needs " + plan.world() + " ranks but this world has "
                    + env.worldSize() + " (WORLD_SIZE / --nproc)");
        }
        PlanGroups groups = cache.get(plan);
        if (groups == null) {
            groups = build(plan);
            cache.put(plan, groups);
        }
        return groups;
    }

    private PlanGroups build(ParallelPlan plan) {
        String layout = GroupLayout.key(plan);
        ProcessGroup[] sub = new ProcessGroup[5];
        GroupLayout.Kind[] kinds = {GroupLayout.Kind.ULYSSES, GroupLayout.Kind.RING, GroupLayout.Kind.SEQUENCE,
                GroupLayout.Kind.CFG, GroupLayout.Kind.VAE};
        for (int i = 0; i < kinds.length; i++) {
            GroupLayout.Group g = GroupLayout.groupOf(plan, kinds[i], env.rank());
            sub[i] = g.size() == 1
                    ? new SingleRankGroup(g.name(), env.rank())
                    : newGroup(g.name(), "diffuse/" + layout + "/" + g.name(), g.members(), env.rank());
        }
        LOG.debug("rank {}: groups for {} ready", env.rank(), plan);
        return new PlanGroups(plan, world, sub[0], sub[1], sub[2], sub[3], sub[4], env.rank() < plan.vae());
    }

    private C10dProcessGroup newGroup(String name, String prefix, List<Integer> members, int globalRank) {
        return newGroup(name, prefix, members, globalRank, backend);
    }

    private C10dProcessGroup newGroup(String name, String prefix, List<Integer> members, int globalRank, String backend) {
        int groupRank = members.indexOf(globalRank);
        PrefixStore store = new PrefixStore(prefix, connection);
        Backend b;
        try {
            b = backend.equals("nccl")
                    ? NcclBackends.create(store, groupRank, members.size(), timeout)
                    : new ProcessGroupGloo(store, groupRank, members.size(), glooOptions());
        } catch (DiffuseException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new DiffuseException("creating group " + name + " (global ranks " + members + ") on rank " + globalRank
                    + " failed within " + timeout.toSeconds() + "s (diffuse.dist.timeout): " + StoreServer.firstLine(e)
                    + "; did every rank start with the same layout?", e);
        }
        store.deallocate(false); // the backend holds it
        C10dProcessGroup group = new C10dProcessGroup(name, b, members, groupRank, timeout);
        created.add(group);
        return group;
    }

    private ProcessGroupGloo.Options glooOptions() {
        ProcessGroupGloo.Options opts = ProcessGroupGloo.Options.create(new Milliseconds(timeout.toMillis()));
        opts.devices(new GlooDeviceVector(glooDevice()));
        return opts;
    }

    /**
     * The interface Gloo binds: GLOO_SOCKET_IFNAME when set (as in PyTorch), loopback when rank 0
     * is on this host's loopback, otherwise this host's address on the route to rank 0. (Gloo's own
     * default, the address the host name resolves to, is often 127.0.0.1 from /etc/hosts, which
     * peers on other hosts cannot reach.)
     */
    private org.bytedeco.pytorch.gloo.Device glooDevice() {
        String ifname = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifname != null && !ifname.isBlank()) {
            return ProcessGroupGloo.createDeviceForInterface(ifname.trim());
        }
        InetAddress master;
        try {
            master = InetAddress.getByName(env.masterAddr());
        } catch (UnknownHostException e) {
            throw new DiffuseException("cannot resolve MASTER_ADDR / diffuse.dist.master-addr '" + env.masterAddr() + "'", e);
        }
        if (master.isLoopbackAddress()) {
            return ProcessGroupGloo.createDeviceForHostname("127.0.0.1");
        }
        // A UDP connect sends nothing: it only asks the kernel which local address routes to rank 0.
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket()) {
            probe.connect(master, env.masterPort());
            InetAddress local = probe.getLocalAddress();
            if (local != null && !local.isAnyLocalAddress()) {
                return ProcessGroupGloo.createDeviceForHostname(local.getHostAddress());
            }
        } catch (java.io.IOException e) {
            LOG.debug("no route to rank 0 at {}: {}; Gloo uses the host name's address", master, e.toString());
        }
        return ProcessGroupGloo.createDefaultDevice();
    }

    /**
     * Waits for every rank at a world barrier (so no rank tears down while others still finish their
     * last collective), then shuts down. Errors during the barrier are ignored: a peer that failed
     * must not make the others hang or fail on exit.
     */
    public void closeGracefully() {
        synchronized (this) {
            if (closed) {
                return;
            }
        }
        try {
            world.barrier();
        } catch (RuntimeException e) {
            LOG.debug("rank {}: final barrier failed: {}", env.rank(), e.getMessage());
        }
        close();
    }

    /**
     * Destroys every group at once: connections close, so peers blocked on this rank fail
     * immediately rather than at their timeout. Rank 0 stops the store last.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeGroups();
        releaseConnection();
        if (server != null) {
            server.close();
        }
    }

    /** Drops this world's references to the connection; it closes once the destroyed groups' stores let go too. */
    private void releaseConnection() {
        connection.close();
        connectionOwner.close();
    }

    private void closeGroups() {
        for (int i = created.size() - 1; i >= 0; i--) {
            try {
                created.get(i).close();
            } catch (RuntimeException e) {
                LOG.debug("closing group {}: {}", created.get(i).name(), e.getMessage());
            }
        }
        created.clear();
    }
}
