package io.diffuse.api.parallel;

/**
 * How a sequence of {@code length} tokens is split over {@code degree} ranks: it is padded to
 * {@code paddedLength = degree * shardLength} and rank i holds tokens
 * {@code [i*shardLength, (i+1)*shardLength)}. Padded tokens are keys no query may see.
 */
public record SequenceLayout(long length, int degree) {
    public SequenceLayout {
        if (length < 1 || degree < 1) {
            throw new IllegalArgumentException("length and degree must be positive: " + length + ", " + degree);
        }
    }

    /** Tokens per rank, {@code ceil(length / degree)}. */
    public long shardLength() {
        return (length + degree - 1) / degree;
    }

    /** Padded total, a multiple of the degree. */
    public long paddedLength() {
        return shardLength() * degree;
    }

    /** Number of padding tokens at the end of the padded sequence. */
    public long padding() {
        return paddedLength() - length;
    }

    /** Valid (non-padding) tokens in shard {@code index}. */
    public long validIn(int index) {
        long start = index * shardLength();
        return Math.max(0, Math.min(shardLength(), length - start));
    }
}
