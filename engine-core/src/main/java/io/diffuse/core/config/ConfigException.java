package io.diffuse.core.config;

import io.diffuse.api.DiffuseException;

/** An invalid configuration value: one line naming the config path, the value and what is allowed. */
public final class ConfigException extends DiffuseException {
    private static final long serialVersionUID = 1L;
    private final String path;

    public ConfigException(String path, Object value, String allowed) {
        super("invalid configuration " + path + " = " + render(value) + ": " + allowed);
        this.path = path;
    }

    /** The offending config path, e.g. diffuse.parallel.ulysses. */
    public String path() {
        return path;
    }

    private static String render(Object value) {
        return value instanceof String s ? "'" + s + "'" : String.valueOf(value);
    }
}
