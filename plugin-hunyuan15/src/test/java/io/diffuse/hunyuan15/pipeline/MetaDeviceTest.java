package io.diffuse.hunyuan15.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.core.local.TiledVaeExecutor;
import io.diffuse.hunyuan15.image.SiglipImageEncoder;
import io.diffuse.hunyuan15.text.HunyuanPromptEncoder;
import io.diffuse.hunyuan15.text.TinyEncoders;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15Transformer3DModel;
import io.diffuse.hunyuan15.vae.AutoencoderKLHunyuanVideo15;
import io.diffuse.testkit.SingleRankContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The meta-device lane: the transformer, the VAE (untiled and tiled), the prompt and image encoders
 * and whole single-rank generations run with every weight and input on libtorch's {@code meta} device
 * (shapes, no data). libtorch refuses to mix a meta tensor with a CPU one as it refuses to mix a CUDA
 * tensor with a CPU one, so a tensor the engine creates on the CPU and mixes into device work fails
 * these tests, without a GPU. Ops with no libtorch meta kernel run their shape path in
 * {@link io.diffuse.api.runtime.DeviceOps}, which makes the same device check; host-side inputs (the
 * tokenizer's ids, the decoded image) are moved to the device by the code under test, as on CUDA.
 * Every check is on shapes and on the device of results.
 */
class MetaDeviceTest {
    private static final Device META = new Device("meta");

    @TempDir
    Path tmp;

    private static SingleRankContext meta(VaeExecutor vae, TilingSettings tiling) {
        return new SingleRankContext(META, DType.FP32, vae, tiling);
    }

    private static Path resource(String path) {
        try {
            return Path.of(MetaDeviceTest.class.getResource(path).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A meta tensor of {@code t}'s shape and dtype: the input without its data. */
    private static Tensor onMeta(Tensor t) {
        return t == null ? null : t.to(META, t.scalar_type());
    }

    private static void assertMeta(Tensor t, long... shape) {
        assertTrue(t.device().is_meta(), "result on " + t.device().str().getString() + ", expected meta");
        assertArrayEquals(shape, t.sizes().vec().get());
    }

    @Test
    void transformerRunsOnMeta() {
        SingleRankContext ctx = meta(null, TilingSettings.defaults(false));
        Path dir = resource("/fixtures/transformer/meanflow");
        try (PointerScope scope = new PointerScope();
                Checkpoint c = ctx.checkpoints().open(dir, "transformer");
                HunyuanVideo15Transformer3DModel model = HunyuanVideo15Transformer3DModel.load(c, ctx.dtype(), ctx.device())) {
            for (String file : new String[] {"meanflow_i2v.safetensors", "meanflow_t2v.safetensors"}) {
                Map<String, Tensor> t = ctx.checkpoints().readTensors(dir.resolve(file));
                Tensor out = model.forward(new HunyuanVideo15Transformer3DModel.Inputs(onMeta(t.get("hidden_states")),
                        onMeta(t.get("timestep")), onMeta(t.get("encoder_hidden_states")), onMeta(t.get("encoder_attention_mask")),
                        onMeta(t.get("encoder_hidden_states_2")), onMeta(t.get("encoder_attention_mask_2")),
                        onMeta(t.get("image_embeds")), onMeta(t.get("timestep_r"))), ctx.attention());
                assertMeta(out, t.get("sample").sizes().vec().get());
            }
        }
    }

    @Test
    void vaeEncodesAndDecodesOnMetaWholeAndTiled() {
        Path dir = resource("/fixtures/vae");
        TilingSettings tiles = new TilingSettings(true, 32, 0.5);
        for (SingleRankContext ctx : new SingleRankContext[] {meta(new LocalVaeExecutor(), TilingSettings.defaults(false)),
            meta(new TiledVaeExecutor(), tiles)}) {
            try (PointerScope scope = new PointerScope();
                    Checkpoint c = ctx.checkpoints().open(dir, "model");
                    AutoencoderKLHunyuanVideo15 vae = AutoencoderKLHunyuanVideo15.load(c, ctx.dtype(), ctx.device())) {
                // 64 x 64 px, 5 frames: 4 tiles of 32 px (overlap 0.5) when tiled.
                Tensor sample = torch.zeros(new long[] {1, 3, 5, 64, 64}).to(META, ScalarType.Float);
                Tensor latent = ctx.vaeExecutor().encode(vae, sample, ctx.vaeRun());
                long r = vae.spatialCompression();
                assertMeta(latent, 1, vae.latentChannels(), 2, 64 / r, 64 / r);
                Tensor video = ctx.vaeExecutor().decode(vae, latent, ctx.vaeRun());
                assertMeta(video, 1, 3, 5, 64, 64);
                // A tile that arrives on the CPU (run-component reads its inputs there) is moved to the weights' device.
                assertMeta(vae.decodeTile(torch.zeros(new long[] {1, vae.latentChannels(), 1, 2, 2})), 1, 3, 1, 2 * r, 2 * r);
            }
        }
    }

    @Test
    void promptAndImageEncodersRunOnMeta() {
        try (PointerScope scope = new PointerScope();
                HunyuanPromptEncoder prompts = TinyEncoders.promptEncoder(16, 32, 24, 16, DType.FP32, META);
                SiglipImageEncoder images = SiglipImageEncoder.tinyRandom(24, DType.FP32, META)) {
            // A quoted text makes a glyph prompt, so the ByT5 encoder runs too.
            Map<String, Tensor> e = prompts.encode("a sign that says \"hello\"", "");
            assertMeta(e.get("prompt_embeds"), 1, 24, 16);
            assertMeta(e.get("prompt_embeds_mask"), 1, 24);
            assertMeta(e.get("prompt_embeds_2"), 1, 16, 32);
            assertMeta(e.get("negative_prompt_embeds_mask_2"), 1, 16);
            Tensor picture = torch.zeros(new long[] {40, 30, 3}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Byte));
            assertMeta(images.encode(picture), 1, 16, 24);
        }
    }

    @Test
    void demoGeneratesTextAndImageToVideoOnMeta() {
        SingleRankContext ctx = meta(new TiledVaeExecutor(), new TilingSettings(true, 64, 0.25));
        try (PointerScope scope = new PointerScope(); HunyuanVideo15Pipeline demo = DemoPipeline.create(ctx)) {
            GenerationResult t2v = demo.generate(GenerationRequest.builder().prompt("a fox").size(128, 128).numFrames(5)
                    .numInferenceSteps(2).guidanceScale(6.0).seed(1).build(), ctx, ProgressListener.NONE);
            assertMeta(t2v.latents(), 1, 4, 2, 8, 8);
            assertMeta(t2v.video(), 1, 3, 5, 128, 128);
            // 64 x 64 image at the demo's target size 128: the square 128 x 128 bucket.
            GenerationResult i2v = demo.generate(GenerationRequest.builder().prompt("a fox")
                    .image(PipelineFixtures.root().resolve("image.png")).numFrames(5).numInferenceSteps(2).guidanceScale(1.0).seed(1)
                    .build(), ctx, ProgressListener.NONE);
            assertMeta(i2v.video(), 1, 3, 5, 128, 128);
        }
    }

    /** Checkpoint-loaded encoders (Qwen2.5-VL, ByT5, SigLIP from their folders) next to the demo transformer and VAE. */
    @Test
    void pipelineWithLoadedEncodersGeneratesOnMeta() throws IOException {
        SingleRankContext ctx = meta(new LocalVaeExecutor(), TilingSettings.defaults(false));
        DemoPipeline.write(tmp, ctx);
        Path encoders = resource("/fixtures/encoders/pipeline");
        for (String folder : new String[] {"text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2", "image_encoder",
            "feature_extractor"}) {
            copyTree(encoders.resolve(folder), tmp.resolve(folder));
        }
        try (PointerScope scope = new PointerScope(); HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(tmp, ctx)) {
            GenerationResult i2v = pipeline.generate(GenerationRequest.builder().prompt("a sign that says \"hi\"")
                    .image(PipelineFixtures.root().resolve("image.png")).numFrames(5).numInferenceSteps(2).guidanceScale(6.0).seed(3)
                    .build(), ctx, ProgressListener.NONE);
            assertMeta(i2v.latents(), 1, 4, 2, 8, 8);
            assertMeta(i2v.video(), 1, 3, 5, 128, 128);
        }
    }

    /** The golden fixture pipeline with embeddings given as CPU tensors (as --prompt-embeds reads them). */
    @Test
    void fixturePipelineWithGivenEmbeddingsGeneratesOnMeta() {
        SingleRankContext ctx = meta(new LocalVaeExecutor(), TilingSettings.defaults(false));
        try (PointerScope scope = new PointerScope();
                HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(PipelineFixtures.root().resolve("tiny"), ctx)) {
            Map<String, Tensor> c = new HashMap<>(PipelineFixtures.read(ctx.checkpoints(), "i2v_cfg"));
            GenerationResult r = pipeline.generate(PipelineFixtures.i2v(c, 6.0, 7), ctx, ProgressListener.NONE);
            assertMeta(r.latents(), c.get("latents").sizes().vec().get());
            assertMeta(r.video(), c.get("video").sizes().vec().get());
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            paths.forEach(p -> {
                try {
                    Files.copy(p, to.resolve(from.relativize(p).toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
