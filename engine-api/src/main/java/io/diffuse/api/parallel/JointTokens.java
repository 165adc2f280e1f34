package io.diffuse.api.parallel;

import org.bytedeco.pytorch.Tensor;

/**
 * Tokens replicated on every rank that every video query attends to and that attend to the whole
 * sequence themselves (text, glyph and image-condition tokens). Shapes (B, L, H, D).
 *
 * @param keyMask optional (B, L) boolean, true where a token is a real key; null when all are real
 */
public record JointTokens(Tensor query, Tensor key, Tensor value, Tensor keyMask) {
    /** Joint tokens with no padding. */
    public JointTokens(Tensor query, Tensor key, Tensor value) {
        this(query, key, value, null);
    }
}
