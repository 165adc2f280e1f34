package io.diffuse.core.distributed;

import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What this rank's groups of one layout have communicated, summed per collective kind over the
 * distinct groups (a group object that serves two roles, e.g. the world and the Ulysses group of a
 * two-rank run, counts once). Take one snapshot before and one after some work; {@link #minus}
 * gives what the work moved.
 */
public record GroupTraffic(Map<String, CommStats.Counter> byKind) {
    /** Sums the current counters of every distinct group of {@code groups}. */
    public static GroupTraffic of(ProcessGroups groups) {
        Set<ProcessGroup> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.addAll(List.of(groups.world(), groups.ulysses(), groups.ring(), groups.sequence(), groups.cfg(), groups.vae()));
        Map<String, CommStats.Counter> sum = new TreeMap<>();
        for (ProcessGroup g : distinct) {
            g.stats().snapshot().forEach((kind, c) -> sum.merge(kind, c, CommStats.Counter::plus));
        }
        return new GroupTraffic(Collections.unmodifiableMap(sum));
    }

    /** This snapshot minus an earlier one, per kind; kinds with no calls in between are left out. */
    public GroupTraffic minus(GroupTraffic earlier) {
        Map<String, CommStats.Counter> d = new TreeMap<>();
        byKind.forEach((kind, c) -> {
            CommStats.Counter e = earlier.byKind.getOrDefault(kind, new CommStats.Counter(0, 0, 0));
            CommStats.Counter delta = new CommStats.Counter(c.calls() - e.calls(), c.bytesSent() - e.bytesSent(),
                    c.bytesReceived() - e.bytesReceived());
            if (delta.calls() != 0) {
                d.put(kind, delta);
            }
        });
        return new GroupTraffic(Collections.unmodifiableMap(d));
    }

    /** The sum of two traffic records, per kind. */
    public GroupTraffic plus(GroupTraffic other) {
        Map<String, CommStats.Counter> s = new TreeMap<>(byKind);
        other.byKind.forEach((kind, c) -> s.merge(kind, c, CommStats.Counter::plus));
        return new GroupTraffic(Collections.unmodifiableMap(s));
    }

    /** Sum over all kinds. */
    public CommStats.Counter total() {
        return byKind.values().stream().reduce(new CommStats.Counter(0, 0, 0), CommStats.Counter::plus);
    }
}
