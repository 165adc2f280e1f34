package io.diffuse.core.distributed;

/**
 * The bytes one rank sends and receives per collective under the standard algorithm, which is what
 * {@link CommCounters} records. {@code P} is the group size and {@code B} the byte size of this
 * rank's input tensor ({@code numel * element_size}). Summed over the group, bytes sent equal bytes
 * received for every kind, and a group of one moves nothing.
 *
 * <ul>
 *   <li>all_reduce (ring: reduce-scatter, then all-gather): sends and receives {@code 2 (P-1)/P B}.
 *   <li>broadcast (root sends to every other rank): the root sends {@code (P-1) B} and receives 0;
 *       every other rank receives {@code B} and sends 0.
 *   <li>all_gather (ring): sends and receives {@code (P-1) B}, B being the local chunk.
 *   <li>all_to_all (equal split, own chunk stays local): sends and receives {@code (P-1)/P B}.
 *   <li>send: {@code B} sent; recv: {@code B} received.
 *   <li>barrier: 0 bytes (calls are still counted).
 * </ul>
 * Fractions are computed exactly in integer arithmetic ({@code B} is a multiple of {@code P} where the
 * collective requires an equal split).
 */
public final class CommVolume {
    private CommVolume() {
    }

    /** all_reduce: bytes sent (and received) by each rank. */
    public static long allReduce(long bytes, int groupSize) {
        return 2 * (groupSize - 1) * bytes / groupSize;
    }

    /** broadcast: bytes sent by a rank ({@code (P-1) B} at the root, 0 elsewhere). */
    public static long broadcastSent(long bytes, int groupSize, boolean root) {
        return root ? (groupSize - 1) * bytes : 0;
    }

    /** broadcast: bytes received by a rank ({@code B} except at the root). */
    public static long broadcastReceived(long bytes, int groupSize, boolean root) {
        return root || groupSize == 1 ? 0 : bytes;
    }

    /** all_gather: bytes sent (and received) by each rank for a local chunk of {@code bytes}. */
    public static long allGather(long bytes, int groupSize) {
        return (long) (groupSize - 1) * bytes;
    }

    /** all_to_all: bytes sent (and received) by each rank for an input of {@code bytes}. */
    public static long allToAll(long bytes, int groupSize) {
        return (groupSize - 1) * bytes / groupSize;
    }
}
