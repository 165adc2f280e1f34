package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.core.registry.PluginRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Which model component a command runs and on what: {@code COMPONENT --model DIR --inputs IN
 * [--model-family NAME]}, shared by run-component and bench.
 */
public final class ComponentOptions {
    @Parameters(index = "0", paramLabel = "COMPONENT", description = "Component name, e.g. transformer, vae-encode, vae-decode.")
    String component;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "A diffusers pipeline root (model_index.json) or the component's own folder.")
    Path model;

    @Option(names = "--inputs", required = true, paramLabel = "IN",
            description = "safetensors file with the input tensors, named as the component's forward arguments "
                    + "(other tensors in it, e.g. a reference output, are ignored).")
    Path inputs;

    @Option(names = "--model-family", paramLabel = "NAME",
            description = "Model family to use instead of recognising it from the folder (see `diffuse info`).")
    String family;

    /**
     * Checks the paths and the component name before any rank is spawned, so a typo costs no rank
     * start-up, and returns the model provider.
     */
    ModelProvider check(PluginRegistry registry) {
        if (!Files.isDirectory(model)) {
            throw new DiffuseException("--model " + model + " is not a directory; give a diffusers pipeline root or component folder");
        }
        if (!Files.isRegularFile(inputs)) {
            throw new DiffuseException("--inputs " + inputs + " does not exist or is not a file");
        }
        ModelProvider provider = provider(registry);
        if (!provider.components().contains(component)) {
            throw new DiffuseException("unknown component '" + component + "' for model family " + provider.family()
                    + "; available: " + new TreeSet<>(provider.components()));
        }
        return provider;
    }

    /** The provider named by --model-family, else the first installed one that recognises --model. */
    ModelProvider provider(PluginRegistry registry) {
        if (family != null) {
            return registry.model(family);
        }
        List<PluginRegistry.Installed<ModelProvider>> matching = registry.models().stream()
                .filter(m -> m.service().recognizes(model)).toList();
        if (matching.isEmpty()) {
            throw new DiffuseException("no installed model provider recognises " + model + " (installed: "
                    + registry.models().stream().map(PluginRegistry.Installed::name).toList()
                    + "); check the folder holds model_index.json or config.json, or pass --model-family");
        }
        return matching.get(0).service();
    }
}
