package io.diffuse.api;

import java.util.Collection;

/**
 * A model provider, parallel strategy or VAE executor was asked for by name but no installed bundle
 * provides it.
 */
public class NotInstalledException extends DiffuseException {
    private static final long serialVersionUID = 1L;
    private final String kind;
    private final String name;

    public NotInstalledException(String kind, String name, Collection<String> installed) {
        super(kind + " '" + name + "' is not installed; installed: " + installed.stream().sorted().toList()
                + " (install the bundle that provides it, e.g. drop it into deploy/)");
        this.kind = kind;
        this.name = name;
    }

    /** What was looked up: "parallel strategy", "VAE executor" or "model provider". */
    public String kind() {
        return kind;
    }

    /** The name that was asked for. */
    public String name() {
        return name;
    }
}
