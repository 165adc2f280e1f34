package io.diffuse.hunyuan15.pipeline;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.hunyuan15.image.SiglipImageEncoder;
import io.diffuse.hunyuan15.text.TinyEncoders;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15TransformerConfig;
import io.diffuse.hunyuan15.vae.AutoencoderKLHunyuanVideo15;
import io.diffuse.hunyuan15.vae.HunyuanVideo15VaeConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The built-in "demo" model: a tiny HunyuanVideo 1.5 (4 heads x 16, 2 blocks; a 5-level VAE with
 * 32 latent-free channels at most) with random weights made in code from a fixed seed, so every run
 * and every rank builds the same model. It exercises the whole pipeline, the parallel strategies and
 * the VAE executors in seconds on a CPU, text-to-video and image-to-video (tiny prompt and image
 * encoders made in code); <b>its weights are random, so it produces noise</b>.
 * The weights are written once per process to a temporary diffusers-layout folder and loaded through
 * the engine's checkpoint loader, the same path real checkpoints take.
 */
public final class DemoPipeline {
    /** The built-in model name ({@code ModelSource.builtin("demo")}). */
    public static final String NAME = "demo";
    /** Attention heads of the demo transformer (what a Ulysses degree must divide). */
    public static final int NUM_ATTENTION_HEADS = 4;
    /** Qwen stream width of the demo's prompt embeddings (prompt_embeds last dimension). */
    public static final int TEXT_EMBED_DIM = 16;
    /** ByT5 stream width of the demo's prompt embeddings (prompt_embeds_2 last dimension). */
    public static final int TEXT_EMBED_2_DIM = 32;
    /** SigLIP stream width of the demo's image embeddings (image_embeds last dimension). */
    public static final int IMAGE_EMBED_DIM = 24;
    private static final long SEED = 20251124L;
    /** Prompt tokens after the template crop (the released model uses 1000). */
    private static final int PROMPT_TOKENS = 128;
    /** Glyph (ByT5) tokens (the released model uses 256). */
    private static final int GLYPH_TOKENS = 64;

    private DemoPipeline() {
    }

    /** Builds the demo pipeline (deterministic random weights) for {@code context}. */
    public static HunyuanVideo15Pipeline create(ModelContext context) {
        Path root;
        try {
            root = Files.createTempDirectory("diffuse-demo-");
        } catch (IOException e) {
            throw new DiffuseException("cannot create a temporary folder for the demo model: " + e.getMessage(), e);
        }
        try {
            write(root, context);
            HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(root, context);
            // Only world rank 0 encodes prompts and images (generate broadcasts the embeddings), so only it builds
            // the encoders.
            if (context.rank() == 0) {
                // Prompt text goes through the real encoder code: a tiny random Qwen2.5-VL text model and
                // ByT5 encoder with a byte-level tokenizer, all made in code (no files to download).
                pipeline.usePromptEncoder(TinyEncoders.promptEncoder(TEXT_EMBED_DIM, TEXT_EMBED_2_DIM, PROMPT_TOKENS,
                        GLYPH_TOKENS, context.dtype(), context.device()));
                // Image-to-video: a tiny random SigLIP vision tower (image_embeds width IMAGE_EMBED_DIM), made in code too.
                pipeline.useImageEncoder(SiglipImageEncoder.tinyRandom(IMAGE_EMBED_DIM, context.dtype(), context.device()));
            }
            return pipeline;
        } finally {
            deleteTree(root);
        }
    }

    /** Writes the demo pipeline root (model_index.json, transformer/, vae/, scheduler/) under {@code root}. */
    public static void write(Path root, ModelContext context) {
        Map<String, Object> transformer = transformerJson();
        Map<String, Object> vae = vaeJson();
        try {
            Files.createDirectories(root.resolve("transformer"));
            Files.createDirectories(root.resolve("vae"));
            Files.createDirectories(root.resolve("scheduler"));
            Files.writeString(root.resolve("model_index.json"), "{\"_class_name\": \"HunyuanVideo15Pipeline\"}\n");
            Files.writeString(root.resolve("transformer/config.json"), json(transformer));
            Files.writeString(root.resolve("vae/config.json"), json(vae));
            Files.writeString(root.resolve("scheduler/scheduler_config.json"),
                    "{\"_class_name\": \"FlowMatchEulerDiscreteScheduler\", \"shift\": 5.0, \"num_train_timesteps\": 1000}\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Generator generator = torch.createCPUGenerator(SEED);
        context.checkpoints().writeTensors(root.resolve("transformer/diffusion_pytorch_model.safetensors"),
                randomWeights(transformerConfig().expectedShapes(), generator));
        context.checkpoints().writeTensors(root.resolve("vae/diffusion_pytorch_model.safetensors"),
                randomWeights(AutoencoderKLHunyuanVideo15.expectedKeys(vaeConfig()), generator));
    }

    /** The demo transformer's config.json fields (rope_axes_dim as its JSON text). */
    private static Map<String, Object> transformerJson() {
        Map<String, Object> transformer = new LinkedHashMap<>();
        transformer.put("_class_name", "HunyuanVideo15Transformer3DModel");
        transformer.put("in_channels", 9);
        transformer.put("out_channels", 4);
        transformer.put("num_attention_heads", NUM_ATTENTION_HEADS);
        transformer.put("attention_head_dim", 16);
        transformer.put("num_layers", 2);
        transformer.put("num_refiner_layers", 1);
        transformer.put("mlp_ratio", 4.0);
        transformer.put("text_embed_dim", TEXT_EMBED_DIM);
        transformer.put("text_embed_2_dim", TEXT_EMBED_2_DIM);
        transformer.put("image_embed_dim", IMAGE_EMBED_DIM);
        transformer.put("rope_axes_dim", "[4, 6, 6]");
        transformer.put("target_size", 128);
        transformer.put("byt5_projection_dim", 32);
        return transformer;
    }

    /** The demo VAE's config.json fields (block_out_channels as its JSON text). */
    private static Map<String, Object> vaeJson() {
        Map<String, Object> vae = new LinkedHashMap<>();
        vae.put("_class_name", "AutoencoderKLHunyuanVideo15");
        vae.put("latent_channels", 4);
        vae.put("block_out_channels", "[4, 8, 16, 32, 32]");
        vae.put("layers_per_block", 1);
        vae.put("scaling_factor", 1.03682);
        return vae;
    }

    /** The demo transformer's configuration, as its config.json reads (shapes only, no weights). */
    public static HunyuanVideo15TransformerConfig transformerConfig() {
        Map<String, Object> parsed = new LinkedHashMap<>(transformerJson());
        parsed.put("rope_axes_dim", java.util.List.of(4, 6, 6));
        return HunyuanVideo15TransformerConfig.fromMap(parsed);
    }

    /** The demo VAE's configuration, as its config.json reads (shapes only, no weights). */
    public static HunyuanVideo15VaeConfig vaeConfig() {
        Map<String, Object> parsed = new LinkedHashMap<>(vaeJson());
        parsed.put("block_out_channels", java.util.List.of(4, 8, 16, 32, 32));
        return HunyuanVideo15VaeConfig.fromJson(parsed);
    }

    /** Prompt tokens of the demo's encoders (template crop plus glyph tokens), for memory estimates. */
    public static int textTokens() {
        return PROMPT_TOKENS + GLYPH_TOKENS;
    }

    /**
     * Random weights in sorted key order from one generator: 1-d weights and RMS-norm gains near 1,
     * biases near 0, other weights scaled by 1/sqrt(fan in) so activations stay of order one.
     */
    private static Map<String, Tensor> randomWeights(Map<String, long[]> shapes, Generator generator) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : new TreeMap<>(shapes).entrySet()) {
            long[] shape = e.getValue();
            Tensor noise = torch.randn(shape, new GeneratorOptional(generator), new TensorOptions(ScalarType.Float));
            String key = e.getKey();
            Tensor w;
            if (key.endsWith("bias")) {
                w = noise.mul(new Scalar(0.02));
            } else if (shape.length == 1 || key.endsWith("gamma")) {
                w = noise.mul(new Scalar(0.1)).add(new Scalar(1.0));
            } else {
                long fanIn = 1;
                for (int d = 1; d < shape.length; d++) {
                    fanIn *= shape[d];
                }
                w = noise.mul(new Scalar(1.0 / Math.sqrt(Math.max(1, fanIn))));
            }
            out.put(key, w.to(ScalarType.BFloat16).contiguous());
        }
        return out;
    }

    private static String json(Map<String, Object> fields) {
        StringBuilder sb = new StringBuilder("{\n");
        int i = 0;
        for (Map.Entry<String, Object> e : fields.entrySet()) {
            Object v = e.getValue();
            String value = v instanceof String s && !s.startsWith("[") ? "\"" + s + "\"" : String.valueOf(v);
            sb.append("  \"").append(e.getKey()).append("\": ").append(value).append(++i < fields.size() ? ",\n" : "\n");
        }
        return sb.append("}\n").toString();
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // A temporary folder left behind is harmless.
        }
    }
}
