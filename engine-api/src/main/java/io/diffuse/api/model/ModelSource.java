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

    /** The folder, when this is one. */
    public Optional<Path> path() {
        return Optional.ofNullable(directory);
    }

    @Override
    public String toString() {
        return directory != null ? directory.toString() : "builtin:" + builtin;
    }
}
