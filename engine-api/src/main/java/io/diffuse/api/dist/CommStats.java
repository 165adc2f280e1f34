package io.diffuse.api.dist;

import java.util.Map;

/**
 * Per-group collective accounting: for each kind of collective ("all_reduce", "all_gather",
 * "all_to_all", "broadcast", "send", "recv", "barrier") how many calls and how many bytes this rank
 * sent and received. Byte counts are the payload a rank puts on or takes off the wire under the
 * standard algorithm for the collective (for example all-to-all sends (P-1)/P of its input), so
 * later measurements can be compared with analytic volumes.
 */
public interface CommStats {
    /** Counters of one kind of collective. */
    record Counter(long calls, long bytesSent, long bytesReceived) {
        public Counter plus(Counter o) {
            return new Counter(calls + o.calls, bytesSent + o.bytesSent, bytesReceived + o.bytesReceived);
        }
    }

    /** A snapshot, keyed by collective kind. */
    Map<String, Counter> snapshot();

    /** Sum over all kinds. */
    default Counter total() {
        return snapshot().values().stream().reduce(new Counter(0, 0, 0), Counter::plus);
    }

    /** Zeroes every counter. */
    void reset();
}
