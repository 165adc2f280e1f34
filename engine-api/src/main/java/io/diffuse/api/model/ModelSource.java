package io.diffuse.api.model;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a model comes from: a diffusers-layout folder (a pipeline root with model_index.json, or one
 * component folder), or a built-in model made in code, by name (e.g. "demo").
 */
public record ModelSource(Path directory, String builtin) {
    public ModelSource {
        if ((directory == null) == (builtin == null)) {
            throw new IllegalArgumentException("exactly one of directory and builtin must be given");
        }
    }

    /** A folder on disk. */
    public static ModelSource directory(Path dir) {
        return new ModelSource(dir, null);
    }

    /** A built-in model. */
    public static ModelSource builtin(String name) {
        return new ModelSource(null, name);
    }

    /** Prefix of a built-in model in {@link #parse}: {@code builtin:demo}. */
    public static final String BUILTIN_PREFIX = "builtin:";

    /** {@code builtin:NAME} as a built-in model, anything else as a folder path. */
    public static ModelSource parse(String text) {
        if (text.startsWith(BUILTIN_PREFIX)) {
            String name = text.substring(BUILTIN_PREFIX.length()).trim();
            if (name.isEmpty()) {
                throw new IllegalArgumentException("'" + text + "' names no built-in model; write builtin:NAME");
            }
            return builtin(name);
        }
        return directory(Path.of(text));
    }

    /** The folder, when this is one. */
    public Optional<Path> path() {
        return Optional.ofNullable(directory);
    }

    @Override
    public String toString() {
        return directory != null ? directory.toString() : BUILTIN_PREFIX + builtin;
    }
}
