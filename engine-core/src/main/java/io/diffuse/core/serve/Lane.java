package io.diffuse.core.serve;

import java.util.List;
import java.util.stream.IntStream;

/**
 * A contiguous set of world ranks that runs one job: ranks {@code first .. first + size - 1}. Lanes
 * start at a multiple of their size where the world allows, so a world has few lane layouts and the
 * process groups of each can be built once and cached.
 */
record Lane(int first, int size) {
    Lane {
        if (first < 0 || size < 1) {
            throw new IllegalArgumentException("a lane needs first >= 0 and size >= 1, not " + first + "+" + size);
        }
    }

    /** The world ranks of this lane, ascending. */
    List<Integer> ranks() {
        return IntStream.range(first, first + size).boxed().toList();
    }

    boolean contains(int rank) {
        return rank >= first && rank < first + size;
    }

    @Override
    public String toString() {
        return size == 1 ? "[" + first + "]" : "[" + first + ".." + (first + size - 1) + "]";
    }
}
