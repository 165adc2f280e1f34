package org.example.waves;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.config.PluginSettings;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.ModelSource;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.TilingSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * A third-party model family written against engine-api alone: "toy-waves", a tiny made-up video
 * model whose denoiser is one attention layer over the video tokens (so it runs under any
 * sequence-parallel strategy) and whose decoder paints moving waves tinted by the latents.
 *
 * <p>The {@code @Component} is what registers it inside the product (OSGi Declarative Services); the
 * {@code META-INF/services} file registers it for the plain class path (embedding, tests).
 */
@Component(service = ModelProvider.class)
public final class WavesModelProvider implements ModelProvider {
    /** The family name. */
    public static final String FAMILY = "toy-waves";
    /** The built-in model. */
    public static final String BUILTIN = "waves";
    /** The class name a folder's model_index.json must carry to be this family's. */
    static final String PIPELINE_CLASS = "ToyWavesPipeline";

    @Override
    public String family() {
        return FAMILY;
    }

    @Override
    public String description() {
        return "example third-party family: one attention layer, painted waves; built-in 'waves'";
    }

    @Override
    public int recognize(Path dir) {
        Path index = dir.resolve("model_index.json");
        try {
            return Files.isRegularFile(index) && Files.readString(index).contains("\"" + PIPELINE_CLASS + "\"") ? CERTAIN : NOT_MINE;
        } catch (IOException e) {
            return NOT_MINE;
        }
    }

    @Override
    public List<String> builtinModels() {
        return List.of(BUILTIN);
    }

    /** A 64 x 64, 9-frame video in 4 steps unless the user says otherwise. */
    @Override
    public List<Map<String, Object>> defaultSettings(ModelSource source) {
        return List.of(Map.of("diffuse.generate.height", 64, "diffuse.generate.width", 64),
                Map.of("diffuse.generate.num-frames", 9), Map.of("diffuse.generate.num-inference-steps", 4));
    }

    @Override
    public void checkRequest(ModelSource source, GenerationRequest request, TilingSettings tiling) {
        int h = request.height().orElse(64);
        int w = request.width().orElse(64);
        if (h % WavesPipeline.PATCH != 0 || w % WavesPipeline.PATCH != 0 || h <= 0 || w <= 0) {
            throw new DiffuseException("toy-waves needs height and width that are positive multiples of " + WavesPipeline.PATCH
                    + ", got " + h + "x" + w);
        }
    }

    /** Our own key: {@code diffuse.waves.speed} (reference.conf), a positive number. */
    @Override
    public void checkConfiguration(PluginSettings diffuse) {
        double speed = diffuse.at("waves").number("speed", 1.0);
        if (!(speed > 0)) {
            throw diffuse.at("waves").invalid("speed", speed, "must be a positive number");
        }
    }

    @Override
    public OptionalInt attentionHeads(ModelSource source, CheckpointLoader checkpoints) {
        return OptionalInt.of(WavesPipeline.HEADS);
    }

    @Override
    public Pipeline load(ModelSource source, ModelContext context) {
        if (source.builtin() != null && !BUILTIN.equals(source.builtin())) {
            throw new DiffuseException("unknown built-in model '" + source + "' for " + FAMILY + "; available: builtin:" + BUILTIN);
        }
        return new WavesPipeline(context);
    }

    @Override
    public Set<String> components() {
        return Set.of();
    }

    @Override
    public ComponentRunner component(String name, Path dir, RuntimeContext context) {
        throw new IllegalArgumentException(FAMILY + " has no components to run on their own");
    }
}
