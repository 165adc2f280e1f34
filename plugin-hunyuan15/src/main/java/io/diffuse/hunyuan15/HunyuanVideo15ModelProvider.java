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
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15TransformerConfig;
import io.diffuse.hunyuan15.transformer.TransformerComponentRunner;
import io.diffuse.hunyuan15.vae.VaeComponentRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.diffuse.api.config.PluginSettings;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.hunyuan15.text.EncoderOptions;
import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TilingSettings;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import io.diffuse.api.model.MemoryPlan;
import io.diffuse.hunyuan15.pipeline.HunyuanVideo15MemoryEstimate;
import io.diffuse.hunyuan15.vae.HunyuanVideo15VaeConfig;
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

    /** Certain when a pipeline root, the transformer folder or the VAE folder names one of this family's classes. */
    @Override
    public int recognize(Path dir) {
        String component = classNameIn(dir.resolve("config.json"));
        // A pipeline root, the transformer folder, or the VAE folder. A root whose model_index.json names no class
        // (e.g. it does not parse) is still ours when its transformer is: loading then names what is wrong with the file.
        boolean mine = classNameIn(dir.resolve("model_index.json")).startsWith("HunyuanVideo15")
                || Files.isRegularFile(dir.resolve("model_index.json"))
                        && classNameIn(dir.resolve(TransformerComponentRunner.NAME).resolve("config.json")).startsWith("HunyuanVideo15")
                || component.startsWith("HunyuanVideo15") || component.equals("AutoencoderKLHunyuanVideo15");
        return mine ? CERTAIN : NOT_MINE;
    }

    /** {@code diffuse.hunyuan15}: encoder TorchScript files exist, token lengths in range. */
    @Override
    public void checkConfiguration(PluginSettings diffuse) {
        EncoderOptions.from(diffuse.at("hunyuan15"));
    }

    @Override
    public List<String> builtinModels() {
        return List.of(DemoPipeline.NAME);
    }

    /**
     * The demo runs on 2 local ranks with USP (Ulysses 2) and VAE patch parallelism over 64 px
     * tiles, a 128 x 128 x 17-frame video in 8 steps: each group only where the user set none of
     * its keys.
     */
    @Override
    public List<Map<String, Object>> defaultSettings(ModelSource source) {
        if (!DemoPipeline.NAME.equals(source.builtin())) {
            return List.of();
        }
        Map<String, Object> plan = new LinkedHashMap<>();
        plan.put("diffuse.parallel.nproc", 2);
        plan.put("diffuse.parallel.ulysses", 2);
        plan.put("diffuse.parallel.ring", 1);
        plan.put("diffuse.parallel.cfg", 1);
        plan.put("diffuse.parallel.strategy", "usp");
        plan.put("diffuse.parallel.vae", 2);
        Map<String, Object> tiles = new LinkedHashMap<>();
        tiles.put("diffuse.vae.tile-size", 64);
        tiles.put("diffuse.vae.tile-overlap", 0.25);
        Map<String, Object> size = new LinkedHashMap<>();
        size.put("diffuse.generate.height", 128);
        size.put("diffuse.generate.width", 128);
        return List.of(plan, Map.of("diffuse.vae.tiling", true), tiles, size, Map.of("diffuse.generate.num-frames", 17),
                Map.of("diffuse.generate.num-inference-steps", 8));
    }

    /**
     * diffusers' check_inputs and prepare_latents limits, from the VAE's config alone: height and width
     * multiples of the spatial compression (both or neither), frames 4k+1, tiles on the latent grid.
     */
    @Override
    public void checkRequest(ModelSource source, GenerationRequest request, TilingSettings tiling) {
        Path vaeJson = source.path().map(HunyuanVideo15ModelProvider::vaeConfigIn).orElse(null);
        int r = intIn(vaeJson, "spatial_compression_ratio", 16);
        int rt = intIn(vaeJson, "temporal_compression_ratio", 4);
        // The input image's header (format, pixel limit): read here, before any rank starts.
        request.image().ifPresent(io.diffuse.hunyuan15.image.HunyuanVideo15ImageProcessor::checkHeader);
        if (request.height().isPresent() != request.width().isPresent()) {
            throw new DiffuseException("give both --height and --width, or neither (then the model's default size is used)");
        }
        for (String side : List.of("height", "width")) {
            java.util.Optional<Integer> v = side.equals("height") ? request.height() : request.width();
            if (v.isPresent() && (v.get() <= 0 || v.get() % r != 0)) {
                throw new DiffuseException("--" + side + " " + v.get() + " is not a positive multiple of " + r
                        + " (the VAE's spatial compression); use e.g. " + Math.max(r, Math.round(Math.abs(v.get()) / (float) r) * r));
            }
        }
        int frames = request.numFrames();
        if (frames < 1 || (frames - 1) % rt != 0) {
            throw new DiffuseException("--num-frames " + frames + " is not " + rt + "k+1 (the VAE's temporal compression is "
                    + rt + "); use e.g. " + (Math.max(0, (frames - 1) / rt) * rt + 1) + " or " + (Math.max(0, (frames - 1) / rt + 1) * rt + 1));
        }
        try {
            TilePlan.validate(tiling, r);
        } catch (IllegalArgumentException e) {
            throw new DiffuseException("invalid configuration diffuse.vae.tile-size / tile-overlap: " + e.getMessage());
        }
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

    /** The VAE's config.json in a pipeline root or VAE folder, or null when there is none. */
    private static Path vaeConfigIn(Path dir) {
        Path json = Files.isRegularFile(dir.resolve("model_index.json")) ? dir.resolve("vae").resolve("config.json")
                : dir.resolve("config.json");
        return classNameIn(json).equals("AutoencoderKLHunyuanVideo15") ? json : null;
    }

    /** An integer field of a diffusers JSON file; {@code fallback} (diffusers' default) when absent. */
    private static int intIn(Path json, String field, int fallback) {
        if (json == null) {
            return fallback;
        }
        try {
            Matcher m = Pattern.compile("\"" + field + "\"\\s*:\\s*(\\d+)").matcher(Files.readString(json));
            return m.find() ? Integer.parseInt(m.group(1)) : fallback;
        } catch (IOException e) {
            return fallback;
        }
    }

    @Override
    public Pipeline load(ModelSource source, ModelContext context) {
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

    /** Released prompt tokens: Qwen2.5-VL's 1000 after the template crop plus ByT5's 256. */
    private static final int TEXT_TOKENS = 1000 + 256;

    /** {@link HunyuanVideo15MemoryEstimate} from the pipeline's configs (the demo's in code); empty for a component folder. */
    @Override
    public OptionalLong estimateMemory(ModelSource source, GenerationRequest request, MemoryPlan plan) {
        if (source.path().isEmpty()) {
            return DemoPipeline.NAME.equals(source.builtin())
                    ? OptionalLong.of(HunyuanVideo15MemoryEstimate.bytes(DemoPipeline.transformerConfig(),
                            DemoPipeline.vaeConfig(), DemoPipeline.textTokens(), 128, request, plan))
                    : OptionalLong.empty();
        }
        Path dir = source.path().get();
        if (!Files.isRegularFile(dir.resolve("model_index.json"))) {
            return OptionalLong.empty();
        }
        try (Checkpoint transformer = plan.checkpoints().open(dir, TransformerComponentRunner.NAME);
                Checkpoint vae = plan.checkpoints().open(dir, "vae")) {
            Object target = transformer.config().get("target_size");
            return OptionalLong.of(HunyuanVideo15MemoryEstimate.bytes(
                    HunyuanVideo15TransformerConfig.fromMap(transformer.config()), HunyuanVideo15VaeConfig.fromJson(vae.config()),
                    TEXT_TOKENS, target instanceof Number n ? n.intValue() : 640, request, plan));
        } catch (DiffuseException | IllegalArgumentException e) {
            return OptionalLong.empty(); // unreadable here: loading names the problem in full
        }
    }

    /** The transformer's {@code num_attention_heads}, from a pipeline root or the transformer folder. */
    @Override
    public OptionalInt attentionHeads(ModelSource source, CheckpointLoader checkpoints) {
        if (source.path().isEmpty()) {
            return DemoPipeline.NAME.equals(source.builtin()) ? OptionalInt.of(DemoPipeline.NUM_ATTENTION_HEADS) : OptionalInt.empty();
        }
        Path dir = source.path().get();
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
