package io.diffuse.api.model;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.TilingSettings;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
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

    /** {@link #recognize}: certainly this family's (e.g. model_index.json names one of its pipeline classes). */
    int CERTAIN = 100;
    /** {@link #recognize}: plausibly this family's (e.g. a component folder whose config fits). */
    int PLAUSIBLE = 50;
    /** {@link #recognize}: not this family's. */
    int NOT_MINE = 0;

    /**
     * How sure this provider is that {@code dir} (a diffusers pipeline root or component folder)
     * holds a model of its family, from {@link #NOT_MINE} (0) to {@link #CERTAIN} (100). Read files
     * only, load nothing. The engine picks the provider with the highest answer; a tie at the top is
     * an error that lists the candidates and asks for {@code --model-family}.
     */
    int recognize(Path dir);

    /**
     * Names of the models this provider builds in code, without a checkpoint (e.g. a tiny demo), used
     * as {@code --model builtin:NAME}. The first is the family's default when only
     * {@code --model-family} is given. Default: none.
     */
    default List<String> builtinModels() {
        return List.of();
    }

    /**
     * Configuration defaults that come with {@code source} (e.g. a demo's parallel plan and size), as
     * groups of full configuration paths: a group applies as a whole, and only when the user set
     * none of its keys, so explicit settings always win and related defaults are never half applied.
     * A group with {@code diffuse.parallel.nproc} is the rank count and the layout for it: the rank
     * count applies unless one is given, the layout only while neither a rank count nor any of its keys
     * is given. Default: none.
     */
    default List<Map<String, Object>> defaultSettings(ModelSource source) {
        return List.of();
    }

    /**
     * Checks a request against what the model of {@code source} accepts (geometry, frame counts,
     * tiling), before any rank starts; reads configuration files at most, loads no weights.
     *
     * @throws io.diffuse.api.DiffuseException one line naming the bad value and what is allowed
     */
    default void checkRequest(ModelSource source, GenerationRequest request, TilingSettings tiling) {
    }

    /**
     * An upper bound of the memory one rank needs to run {@code request} on top of what it holds once
     * the model is loaded (latents, activations, the decoded video and its copies), in bytes, for the
     * rank that needs the most; from shapes alone (configuration files at most, no weights, no tensors).
     * The server refuses a request whose estimate exceeds its memory budget before queueing it, and
     * {@code generate} before any rank starts, so one request cannot take a host's memory. Aim for a
     * bound that holds (a measured peak above it lets a request through that may fail) and is within
     * a small factor of the real peak (far above it refuses requests that would run). Empty when this
     * family cannot tell (the default): then only the server's size limits apply.
     */
    default OptionalLong estimateMemory(ModelSource source, GenerationRequest request, MemoryPlan plan) {
        return OptionalLong.empty();
    }

    /**
     * Loads a whole pipeline on this rank, once: only what is fixed at load time is given (device,
     * dtype, checkpoints, configuration); each request brings its own groups, strategy and VAE executor
     * ({@link Pipeline#generate}).
     */
    Pipeline load(ModelSource source, io.diffuse.api.runtime.ModelContext context);

    /** Component names {@link #component} accepts, e.g. transformer, vae-encode, vae-decode. */
    Set<String> components();

    /**
     * Loads one component from {@code dir} (a pipeline root or the component's own folder).
     *
     * @throws IllegalArgumentException for a name not in {@link #components()}
     */
    ComponentRunner component(String name, Path dir, RuntimeContext context);

    /**
     * The number of attention heads the sequence-parallel strategy splits in the model of {@code source}
     * (its denoising transformer), read from the configuration without loading weights. The engine
     * checks the configured strategy against it ({@link io.diffuse.api.parallel.ParallelStrategy#validate})
     * before any rank starts, so for example a Ulysses degree that does not divide the head count
     * fails at once. Empty when this family cannot tell (the default) or {@code source} holds no such
     * component; the check is then skipped and loading reports any problem.
     */
    default OptionalInt attentionHeads(ModelSource source, CheckpointLoader checkpoints) {
        return OptionalInt.empty();
    }

    /**
     * Checks this plugin's own configuration keys (types, ranges, files), before any rank starts; the
     * engine calls it for every installed plugin with the effective configuration below
     * {@code diffuse}. Default: nothing to check.
     *
     * @throws io.diffuse.api.DiffuseException one line naming the full path, e.g. via
     *         {@link io.diffuse.api.config.PluginSettings#invalid}
     */
    default void checkConfiguration(io.diffuse.api.config.PluginSettings diffuse) {
    }
}
