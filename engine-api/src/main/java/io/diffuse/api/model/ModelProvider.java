package io.diffuse.api.model;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.RuntimeContext;
import java.nio.file.Path;
import java.util.OptionalInt;
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

    /**
     * The number of attention heads the sequence-parallel strategy splits in the model of {@code dir}
     * (its denoising transformer), read from the configuration without loading weights. The engine
     * checks the configured strategy against it ({@link io.diffuse.api.parallel.ParallelStrategy#validate})
     * before any rank starts, so for example a Ulysses degree that does not divide the head count
     * fails at once. Empty when this family cannot tell (the default) or {@code dir} holds no such
     * component; the check is then skipped and loading reports any problem.
     */
    default OptionalInt attentionHeads(Path dir, CheckpointLoader checkpoints) {
        return OptionalInt.empty();
    }
}
