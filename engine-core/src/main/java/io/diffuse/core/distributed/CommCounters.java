package io.diffuse.core.distributed;

import io.diffuse.api.dist.CommStats;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** Thread-safe {@link CommStats}: counters per collective kind, added to by a process group. */
public final class CommCounters implements CommStats {
    private final Map<String, Counter> counters = new TreeMap<>();

    /** Records one call of {@code kind} that put {@code sent} bytes on and took {@code received} bytes off the wire. */
    public synchronized void record(String kind, long sent, long received) {
        counters.merge(kind, new Counter(1, sent, received), Counter::plus);
    }

    @Override
    public synchronized Map<String, Counter> snapshot() {
        return Collections.unmodifiableMap(new TreeMap<>(counters));
    }

    @Override
    public synchronized void reset() {
        counters.clear();
    }

    @Override
    public String toString() {
        return snapshot().toString();
    }
}
