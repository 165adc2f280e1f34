package io.diffuse.api;

/**
 * An error a user can act on: the message names what is wrong and how to fix it. The CLI prints the
 * message (no stack trace) and exits non-zero.
 */
public class DiffuseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DiffuseException(String message) {
        super(message);
    }

    public DiffuseException(String message, Throwable cause) {
        super(message, cause);
    }
}
