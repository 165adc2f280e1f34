package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.config.ParallelDefaults;
import io.diffuse.core.generate.GenerationService;
import io.diffuse.core.model.ModelResolver;
import io.diffuse.core.registry.PluginRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.TreeSet;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Which model component a command runs and on what: {@code COMPONENT --model DIR --inputs IN
 * [--model-family NAME]}, shared by run-component and bench.
 */
public final class ComponentOptions {
    // Required, but checked in prepare rather than by picocli: picocli checks a command's required
    // arguments also when one of its subcommands runs (`diffuse bench serve` needs none of these).
    @Parameters(index = "0", arity = "0..1", paramLabel = "COMPONENT",
            description = "Component name, e.g. transformer, vae-encode, vae-decode (required).")
    String component;

    @Option(names = "--model", paramLabel = "DIR",
            description = "A diffusers pipeline root (model_index.json) or the component's own folder (required).")
    Path model;

    @Option(names = "--inputs", paramLabel = "IN",
            description = "safetensors file with the input tensors, named as the component's forward arguments "
                    + "(other tensors in it, e.g. a reference output, are ignored; required).")
    Path inputs;

    @Option(names = "--model-family", paramLabel = "NAME",
            description = "Model family to use instead of recognising it from the folder (see `diffuse info`).")
    String family;

    /** The resolved model, set by {@link #prepare}. */
    ModelResolver.ResolvedModel resolved;

    /**
     * Checks the paths, the model and the component, derives the layout ({@code --nproc N} alone runs
     * one ring over all ranks: Ring takes any group size and head count, and VAE components ignore the
     * sequence layout anyway), and checks the strategy against the model's heads, all before any rank
     * is spawned.
     */
    EngineSettings prepare(LayeredConfig layers, PluginRegistry registry) {
        if (component == null) {
            throw new DiffuseException("missing COMPONENT: name the component to run, e.g. transformer, vae-encode, vae-decode");
        }
        if (model == null) {
            throw new DiffuseException("missing --model DIR: give a diffusers pipeline root or the component's folder");
        }
        if (inputs == null) {
            throw new DiffuseException("missing --inputs IN: give a safetensors file with the component's input tensors");
        }
        if (!Files.isDirectory(model)) {
            throw new DiffuseException("--model " + model + " is not a directory; give a diffusers pipeline root or component folder");
        }
        if (!Files.isRegularFile(inputs)) {
            throw new DiffuseException("--inputs " + inputs + " does not exist or is not a file");
        }
        resolved = new ModelResolver(registry).resolve(model.toString(), Optional.ofNullable(family));
        ModelProvider provider = resolved.provider();
        if (!provider.components().contains(component)) {
            throw new DiffuseException("unknown component '" + component + "' for model family " + provider.family()
                    + "; available: " + new TreeSet<>(provider.components()));
        }
        EngineSettings settings = EngineSettings.from(ParallelDefaults.allRanksInOneGroup(layers, ParallelDefaults.RING).effective());
        GenerationService.checkStrategy(registry, settings, resolved, new DiffusersCheckpointLoader());
        return settings;
    }

    /** The provider chosen by {@link #prepare}. */
    ModelProvider provider() {
        return resolved.provider();
    }
}
