package io.diffuse.core.model;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.ModelSource;
import io.diffuse.core.registry.PluginRegistry;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Which installed model provider serves a model: by family name when one is given, else by asking
 * every provider how sure it is that the folder is its own ({@link ModelProvider#recognize}), or
 * which providers build a {@code builtin:NAME} model. Ambiguity is an error listing the candidates,
 * never an alphabetical accident. Used by every command, the server and the Java API.
 */
public final class ModelResolver {
    private final PluginRegistry registry;

    public ModelResolver(PluginRegistry registry) {
        this.registry = registry;
    }

    /** A provider and the model it serves. */
    public record ResolvedModel(ModelProvider provider, ModelSource source) {
        /** The provider's family name. */
        public String family() {
            return provider.family();
        }
    }

    /**
     * Resolves {@code model} ("builtin:NAME", a folder path, or "" for the family's first built-in
     * model) under an optional family.
     *
     * @param model the {@code --model} value; "" = the default built-in model of {@code family}
     * @param family the {@code --model-family} value, or empty to recognise the folder / built-in name
     */
    public ResolvedModel resolve(String model, Optional<String> family) {
        Optional<ModelProvider> named = family.filter(f -> !f.isBlank()).map(registry::model);
        if (model.isBlank()) {
            ModelProvider p = named.orElseThrow(() -> new DiffuseException(
                    "no model given: pass --model DIR (a diffusers pipeline root) or --model builtin:NAME"));
            if (p.builtinModels().isEmpty()) {
                throw new DiffuseException("model family " + p.family() + " has no built-in model; pass --model DIR");
            }
            return new ResolvedModel(p, ModelSource.builtin(p.builtinModels().get(0)));
        }
        ModelSource source;
        try {
            source = ModelSource.parse(model);
        } catch (IllegalArgumentException e) {
            throw new DiffuseException("--model " + e.getMessage());
        }
        if (source.builtin() != null) {
            return builtin(source, named);
        }
        if (!Files.isDirectory(source.directory())) {
            throw new DiffuseException("--model " + source.directory() + " is not a directory; give a diffusers pipeline root"
                    + " or component folder, or builtin:NAME (built-in models: " + builtinNames() + ")");
        }
        if (named.isPresent()) {
            return new ResolvedModel(named.get(), source);
        }
        return recognised(source);
    }

    private ResolvedModel builtin(ModelSource source, Optional<ModelProvider> named) {
        List<ModelProvider> candidates = named.map(List::of).orElseGet(() -> registry.models().stream()
                .map(PluginRegistry.Installed::service).toList())
                .stream().filter(p -> p.builtinModels().contains(source.builtin())).toList();
        if (candidates.isEmpty()) {
            throw new DiffuseException("no installed model family builds '" + source + "'" + named.map(p -> " in family "
                    + p.family()).orElse("") + "; built-in models: " + builtinNames());
        }
        if (candidates.size() > 1) {
            throw new DiffuseException("built-in model '" + source + "' is provided by several model families "
                    + candidates.stream().map(ModelProvider::family).toList() + "; pass --model-family NAME");
        }
        return new ResolvedModel(candidates.get(0), source);
    }

    private ResolvedModel recognised(ModelSource source) {
        record Scored(ModelProvider provider, int score) {
        }
        List<Scored> scored = new ArrayList<>();
        for (PluginRegistry.Installed<ModelProvider> i : registry.models()) {
            int score = i.service().recognize(source.directory());
            if (score > ModelProvider.NOT_MINE) {
                scored.add(new Scored(i.service(), score));
            }
        }
        if (scored.isEmpty()) {
            throw new DiffuseException("no installed model family recognises " + source.directory() + " (installed: "
                    + registry.models().stream().map(PluginRegistry.Installed::name).toList()
                    + "); it needs a model_index.json or config.json whose _class_name a family knows, or pass --model-family NAME");
        }
        scored.sort(Comparator.comparingInt(Scored::score).reversed());
        int top = scored.get(0).score();
        List<String> tied = scored.stream().filter(s -> s.score() == top).map(s -> s.provider().family()).toList();
        if (tied.size() > 1) {
            throw new DiffuseException("several model families recognise " + source.directory() + " equally " + tied
                    + "; pass --model-family NAME");
        }
        return new ResolvedModel(scored.get(0).provider(), source);
    }

    /** Every built-in model as builtin:NAME (family), for messages. */
    public List<String> builtinNames() {
        List<String> names = new ArrayList<>();
        for (PluginRegistry.Installed<ModelProvider> i : registry.models()) {
            for (String b : i.service().builtinModels()) {
                names.add(ModelSource.BUILTIN_PREFIX + b + " (" + i.name() + ")");
            }
        }
        return names;
    }
}
