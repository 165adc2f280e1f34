package io.diffuse.core.serve;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

/**
 * Which ranks of the world are free, and lanes taken from them. A lane of size w is placed at the
 * lowest free offset that is a multiple of w (any free offset when w does not divide the world), so
 * the same few layouts recur. Not thread-safe: the scheduler owns it under its lock.
 */
final class LaneAllocator {
    private final int worldSize;
    private final BitSet busy;
    private final List<Lane> taken = new ArrayList<>();

    LaneAllocator(int worldSize) {
        if (worldSize < 1) {
            throw new IllegalArgumentException("world size must be 1 or more, not " + worldSize);
        }
        this.worldSize = worldSize;
        this.busy = new BitSet(worldSize);
    }

    int worldSize() {
        return worldSize;
    }

    /** How many ranks no lane holds. */
    int free() {
        return worldSize - busy.cardinality();
    }

    boolean idle() {
        return busy.isEmpty();
    }

    /** The lanes held now, in the order they were taken. */
    List<Lane> taken() {
        return List.copyOf(taken);
    }

    /** Whether a lane of {@code size} ranks could be taken now. */
    boolean fits(int size) {
        return place(size).isPresent();
    }

    /** The largest lane that could be taken now (0 when every rank is busy). */
    int largestFit() {
        for (int size = free(); size > 0; size--) {
            if (fits(size)) {
                return size;
            }
        }
        return 0;
    }

    /** Takes a lane of {@code size} ranks, or empty when none is free. */
    Optional<Lane> take(int size) {
        Optional<Lane> lane = place(size);
        lane.ifPresent(l -> {
            busy.set(l.first(), l.first() + l.size());
            taken.add(l);
        });
        return lane;
    }

    /** Gives a taken lane's ranks back. */
    void release(Lane lane) {
        if (!taken.remove(lane)) {
            throw new IllegalStateException("lane " + lane + " is not taken");
        }
        busy.clear(lane.first(), lane.first() + lane.size());
    }

    private Optional<Lane> place(int size) {
        if (size < 1 || size > worldSize) {
            return Optional.empty();
        }
        int step = worldSize % size == 0 ? size : 1;
        for (int first = 0; first + size <= worldSize; first += step) {
            int nextBusy = busy.nextSetBit(first);
            if (nextBusy < 0 || nextBusy >= first + size) {
                return Optional.of(new Lane(first, size));
            }
        }
        return Optional.empty();
    }
}
