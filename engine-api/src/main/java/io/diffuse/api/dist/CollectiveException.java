package io.diffuse.api.dist;

import io.diffuse.api.DiffuseException;

/**
 * A collective or point-to-point operation failed: a peer rank died, stalled past the timeout, or
 * the group was shut down. Unlike an error inside one rank's own computation (a bad input, a native
 * allocation that failed), the group cannot be trusted afterwards: a long-running engine restarts its
 * ranks rather than run the next request on it.
 */
public class CollectiveException extends DiffuseException {
    private static final long serialVersionUID = 1L;

    public CollectiveException(String message) {
        super(message);
    }

    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
