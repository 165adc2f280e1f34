package io.diffuse.usp.attention;

import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.function.Supplier;

/**
 * Counts the bytes one attention moves: the difference of its groups' own statistics around each
 * of its calls, so traffic other code puts on the same groups is not attributed to it, and the
 * numbers follow the process group's accounting conventions exactly.
 */
final class CommMeter {
    private final List<ProcessGroup> groups = new ArrayList<>();
    private CommStats.Counter total = new CommStats.Counter(0, 0, 0);

    CommMeter(ProcessGroup... used) {
        IdentityHashMap<ProcessGroup, Boolean> seen = new IdentityHashMap<>();
        for (ProcessGroup g : used) {
            if (seen.put(g, Boolean.TRUE) == null) {
                groups.add(g);
            }
        }
    }

    /** Runs {@code body} and adds what it moved on the metered groups. */
    <T> T measure(Supplier<T> body) {
        CommStats.Counter before = sum();
        T result = body.get();
        CommStats.Counter after = sum();
        total = total.plus(new CommStats.Counter(after.calls() - before.calls(),
                after.bytesSent() - before.bytesSent(), after.bytesReceived() - before.bytesReceived()));
        return result;
    }

    /** Everything measured so far. */
    CommStats.Counter total() {
        return total;
    }

    private CommStats.Counter sum() {
        CommStats.Counter c = new CommStats.Counter(0, 0, 0);
        for (ProcessGroup g : groups) {
            c = c.plus(g.stats().total());
        }
        return c;
    }
}
