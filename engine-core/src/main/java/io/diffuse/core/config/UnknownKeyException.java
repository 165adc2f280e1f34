package io.diffuse.core.config;

import io.diffuse.api.DiffuseException;

/** A configuration key that no bundle's reference declares (usually a typo); the message names the nearest known key. */
public final class UnknownKeyException extends DiffuseException {
    private static final long serialVersionUID = 1L;
    private final String path;

    UnknownKeyException(String path, String message) {
        super(message);
        this.path = path;
    }

    /** The key as it was given, e.g. diffuse.parallel.ringg (not the suggestion). */
    public String path() {
        return path;
    }
}
