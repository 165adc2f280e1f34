package io.diffuse.launcher;

/** The launcher cannot start the engine; the message says what is wrong and how to fix it. */
public final class LauncherException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LauncherException(String message) {
        super(message);
    }

    public LauncherException(String message, Throwable cause) {
        super(message, cause);
    }
}
