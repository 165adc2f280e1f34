package io.diffuse.hunyuan15.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.testkit.SingleRankContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real prompt text and a PNG through the native encoders: the demo transformer and VAE (random, made
 * in code) next to the tiny random Qwen2.5-VL / ByT5 / SigLIP encoders and tokenizers of the encoder
 * fixtures, in one pipeline root. Checks the whole path runs and yields a finite video in [0, 1] of the
 * right shape, and that the prompt changes the result (the encoders' parity with transformers is
 * tested on their own).
 */
class NativeEncodersPipelineTest {
    @TempDir
    Path root;

    /** The demo's transformer and VAE with the fixtures' native encoders, in {@link #root}. */
    private SingleRankContext pipelineRoot() throws IOException, URISyntaxException {
        SingleRankContext ctx = new SingleRankContext(DType.FP32, new LocalVaeExecutor(), TilingSettings.defaults(false));
        DemoPipeline.write(root, ctx);
        Path encoders = Path.of(NativeEncodersPipelineTest.class.getResource("/fixtures/encoders/pipeline").toURI());
        for (String folder : new String[] {"text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2", "image_encoder",
            "feature_extractor"}) {
            copyTree(encoders.resolve(folder), root.resolve(folder));
        }
        return ctx;
    }

    @Test
    void onlyWorldRankZeroLoadsTheEncoders() throws Exception {
        SingleRankContext ctx = pipelineRoot();
        ModelContext rankOne = new ModelContext() {
            @Override
            public Device device() {
                return ctx.device();
            }

            @Override
            public DType dtype() {
                return ctx.dtype();
            }

            @Override
            public CheckpointLoader checkpoints() {
                return ctx.checkpoints();
            }

            @Override
            public Map<String, Object> configuration(String path) {
                return ctx.configuration(path);
            }

            @Override
            public int rank() {
                return 1;
            }
        };
        try (PointerScope scope = new PointerScope(); HunyuanVideo15Pipeline onRankOne = HunyuanVideo15Pipeline.load(root, rankOne);
                HunyuanVideo15Pipeline onRankZero = HunyuanVideo15Pipeline.load(root, ctx)) {
            // Rank 1 receives the embeddings from rank 0 (PromptEmbeddingsBroadcastTest), so it has no encoders to load.
            assertFalse(onRankOne.hasPromptEncoder(), "rank 1 loaded the prompt encoders");
            assertFalse(onRankOne.hasImageEncoder(), "rank 1 loaded the image encoder");
            assertTrue(onRankZero.hasPromptEncoder(), "rank 0 must load the prompt encoders");
            assertTrue(onRankZero.hasImageEncoder(), "rank 0 must load the image encoder");
        }
    }

    @Test
    void textAndImageToVideoFromPromptText() throws Exception {
        SingleRankContext ctx = pipelineRoot();
        try (PointerScope scope = new PointerScope(); HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(root, ctx)) {
            GenerationResult cat = pipeline.generate(t2v("a cat holding a sign that says \"hello\""), ctx, ProgressListener.NONE);
            GenerationResult dog = pipeline.generate(t2v("a dog"), ctx, ProgressListener.NONE);
            assertArrayEquals(new long[] {1, 3, 5, 32, 32}, cat.video().sizes().vec().get());
            assertTrue(cat.video().isfinite().all().item().toBool());
            assertTrue(PipelineFixtures.maxAbsDiff(cat.latents(), dog.latents()) > 1e-4, "the prompt reaches the transformer");
            GenerationRequest i2v = GenerationRequest.builder().prompt("a cat").image(PipelineFixtures.root().resolve("image.png"))
                    .numFrames(5).numInferenceSteps(2).guidanceScale(6.0).seed(3).build();
            GenerationResult moving = pipeline.generate(i2v, ctx, ProgressListener.NONE);
            // 64x64 image at the demo's target size 128 -> the square bucket 128x128.
            assertArrayEquals(new long[] {1, 3, 5, 128, 128}, moving.video().sizes().vec().get());
            assertTrue(moving.latents().isfinite().all().item().toBool());
        }
    }

    private static GenerationRequest t2v(String prompt) {
        return GenerationRequest.builder().prompt(prompt).size(32, 32).numFrames(5).numInferenceSteps(2).guidanceScale(6.0).seed(5)
                .build();
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
