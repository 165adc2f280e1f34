package io.diffuse.api.model;

import io.diffuse.api.runtime.RuntimeContext;
import java.nio.file.Path;
import java.util.Set;

/**
 * A model family a bundle adds to the engine (e.g. "hunyuanvideo-1.5"). Registered as a service;
 * the engine asks every provider whether it recognises a model folder, or picks one by family name.
 */
public interface ModelProvider {
    /** Service property carrying {@link #family()}. */
    String FAMILY_PROPERTY = "model.family";

    /** The family name configuration and {@code --model-family} use. */
    String family();

    /** One line for {@code diffuse info}. */
    String description();

    /** Whether {@code dir} (a diffusers pipeline root or component folder) holds a model of this family. */
    boolean recognizes(Path dir);

    /** Loads a whole pipeline. */
    Pipeline load(ModelSource source, RuntimeContext context);

    /** Component names {@link #component} accepts, e.g. transformer, vae-encode, vae-decode. */
    Set<String> components();

    /**
     * Loads one component from {@code dir} (a pipeline root or the component's own folder).
     *
     * @throws IllegalArgumentException for a name not in {@link #components()}
     */
    ComponentRunner component(String name, Path dir, RuntimeContext context);
}
