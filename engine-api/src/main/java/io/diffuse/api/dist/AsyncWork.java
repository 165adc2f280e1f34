package io.diffuse.api.dist;

/**
 * A collective or point-to-point operation in flight; lets a caller overlap communication with
 * compute (ring attention sends the next K/V block while it attends to the current one).
 */
public interface AsyncWork {
    /** Blocks until the operation completes; throws {@link io.diffuse.api.DiffuseException} on failure or timeout. */
    void await();
}
