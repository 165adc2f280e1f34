package io.diffuse.hunyuan15;

import io.diffuse.hunyuan15.pipeline.DemoPipeline;
import io.diffuse.hunyuan15.pipeline.HunyuanVideo15Pipeline;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.ModelSource;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15TransformerConfig;
import io.diffuse.hunyuan15.transformer.TransformerComponentRunner;
import io.diffuse.hunyuan15.vae.VaeComponentRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.osgi.service.component.annotations.Component;

/** The "hunyuanvideo-1.5" model family: HunyuanVideo 1.5 in diffusers layout. */
@Component(service = ModelProvider.class, property = ModelProvider.FAMILY_PROPERTY + "=" + HunyuanVideo15ModelProvider.FAMILY)
public final class HunyuanVideo15ModelProvider implements ModelProvider {
    /** The family name. */
    public static final String FAMILY = "hunyuanvideo-1.5";
    private static final Pattern CLASS_NAME = Pattern.compile("\"_class_name\"\\s*:\\s*\"([^\"]*)\"");

    /** Component name -> loader; add an entry to add a component. */
    private static final Map<String, BiFunction<Path, RuntimeContext, ComponentRunner>> COMPONENTS = new TreeMap<>(Map.of(
            TransformerComponentRunner.NAME, TransformerComponentRunner::new,
            VaeComponentRunner.ENCODE, (dir, context) -> VaeComponentRunner.open(VaeComponentRunner.ENCODE, dir, context),
            VaeComponentRunner.DECODE, (dir, context) -> VaeComponentRunner.open(VaeComponentRunner.DECODE, dir, context)));

    @Override
    public String family() {
        return FAMILY;
    }

    @Override
    public String description() {
        return "HunyuanVideo 1.5 (diffusers layout): T2V/I2V pipeline, transformer, VAE encode/decode; built-in tiny 'demo'";
    }

    @Override
    public boolean recognizes(Path dir) {
        String component = classNameIn(dir.resolve("config.json"));
        // A pipeline root, the transformer folder, or the VAE folder. A root whose model_index.json names no class
        // (e.g. it does not parse) is still ours when its transformer is: loading then names what is wrong with the file.
        return classNameIn(dir.resolve("model_index.json")).startsWith("HunyuanVideo15")
                || Files.isRegularFile(dir.resolve("model_index.json"))
                        && classNameIn(dir.resolve(TransformerComponentRunner.NAME).resolve("config.json")).startsWith("HunyuanVideo15")
                || component.startsWith("HunyuanVideo15") || component.equals("AutoencoderKLHunyuanVideo15");
    }

    /** The {@code _class_name} of a diffusers JSON file, or "" when absent or unreadable. */
    private static String classNameIn(Path json) {
        if (!Files.isRegularFile(json)) {
            return "";
        }
        try {
            Matcher m = CLASS_NAME.matcher(Files.readString(json));
            return m.find() ? m.group(1) : "";
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public Pipeline load(ModelSource source, RuntimeContext context) {
        if (source.path().isPresent()) {
            return HunyuanVideo15Pipeline.load(source.path().get(), context);
        }
        if (DemoPipeline.NAME.equals(source.builtin())) {
            return DemoPipeline.create(context);
        }
        throw new DiffuseException("unknown built-in model '" + source.builtin() + "' for " + FAMILY + "; available: "
                + DemoPipeline.NAME);
    }

    @Override
    public Set<String> components() {
        return COMPONENTS.keySet();
    }

    @Override
    public ComponentRunner component(String name, Path dir, RuntimeContext context) {
        BiFunction<Path, RuntimeContext, ComponentRunner> factory = COMPONENTS.get(name);
        if (factory == null) {
            throw new IllegalArgumentException("unknown " + FAMILY + " component '" + name + "'; available: " + components());
        }
        return factory.apply(dir, context);
    }

    /** The transformer's {@code num_attention_heads}, from a pipeline root or the transformer folder. */
    @Override
    public OptionalInt attentionHeads(Path dir, CheckpointLoader checkpoints) {
        boolean transformerHere = Files.isRegularFile(dir.resolve("model_index.json"))
                ? Files.isRegularFile(dir.resolve(TransformerComponentRunner.NAME).resolve("config.json"))
                : classNameIn(dir.resolve("config.json")).startsWith("HunyuanVideo15Transformer");
        if (!transformerHere) {
            return OptionalInt.empty(); // e.g. a VAE folder: no attention for a strategy to split
        }
        try (Checkpoint checkpoint = checkpoints.open(dir, TransformerComponentRunner.NAME)) {
            return OptionalInt.of(HunyuanVideo15TransformerConfig.fromMap(checkpoint.config()).numAttentionHeads());
        } catch (DiffuseException | IllegalArgumentException e) {
            // Unreadable here means unreadable on the ranks too, where loading names the problem in full.
            return OptionalInt.empty();
        }
    }
}
