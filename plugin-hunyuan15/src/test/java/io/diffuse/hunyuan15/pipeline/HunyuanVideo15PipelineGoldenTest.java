package io.diffuse.hunyuan15.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.testkit.SingleRankContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole pipeline against diffusers' HunyuanVideo15Pipeline / ImageToVideoPipeline on the tiny
 * fixtures of tools/reference/gen_pipeline.py, single rank, fp32 compute on bf16-stored weights (the
 * numbers diffusers computed with). Tolerance 1e-4 on the final latents (the bar; the error
 * is float rounding of different kernels summed over 3 steps and 2 guidance passes) and 1e-4 on the
 * decoded video in [0, 1].
 */
class HunyuanVideo15PipelineGoldenTest {
    private static final double TOLERANCE = 1e-4;
    private static final SingleRankContext CTX = new SingleRankContext(DType.FP32, new LocalVaeExecutor(),
            TilingSettings.defaults(false));
    private static HunyuanVideo15Pipeline pipeline;

    @BeforeAll
    static void load() {
        pipeline = HunyuanVideo15Pipeline.load(PipelineFixtures.root().resolve("tiny"), CTX);
    }

    @AfterAll
    static void close() {
        pipeline.close();
    }

    @Test
    void textToVideoWithGuidanceMatchesDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = PipelineFixtures.read(CTX.checkpoints(), "t2v_cfg");
            List<String> events = new ArrayList<>();
            GenerationResult r = pipeline.generate(PipelineFixtures.t2v(c), CTX, recorder(events));
            assertArrayEquals(c.get("latents").sizes().vec().get(), r.latents().sizes().vec().get());
            double latentErr = PipelineFixtures.maxAbsDiff(r.latents(), c.get("latents"));
            assertTrue(latentErr <= TOLERANCE, "T2V latents max abs error " + latentErr);
            assertNotNull(r.video());
            double videoErr = PipelineFixtures.maxAbsDiff(r.video(), c.get("video"));
            System.out.printf("golden pipeline t2v_cfg: latents max abs error %.3g, video %.3g%n", latentErr, videoErr);
            assertTrue(videoErr <= TOLERANCE, "T2V video max abs error " + videoErr);
            assertEquals(List.of("start encode", "end encode", "start denoise", "denoise 1/3", "denoise 2/3", "denoise 3/3",
                    "end denoise", "start decode", "end decode"), events);
        }
    }

    @Test
    void imageToVideoWithGuidanceMatchesDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = PipelineFixtures.read(CTX.checkpoints(), "i2v_cfg");
            GenerationResult r = pipeline.generate(PipelineFixtures.i2v(c, 6.0, 7), CTX, ProgressListener.NONE);
            double latentErr = PipelineFixtures.maxAbsDiff(r.latents(), c.get("latents"));
            assertTrue(latentErr <= TOLERANCE, "I2V latents max abs error " + latentErr);
            double videoErr = PipelineFixtures.maxAbsDiff(r.video(), c.get("video"));
            System.out.printf("golden pipeline i2v_cfg: latents max abs error %.3g, video %.3g%n", latentErr, videoErr);
            assertTrue(videoErr <= TOLERANCE, "I2V video max abs error " + videoErr);
        }
    }

    @Test
    void meanflowImageToVideoWithoutGuidanceMatchesDiffusers() {
        try (PointerScope scope = new PointerScope();
                HunyuanVideo15Pipeline meanflow = HunyuanVideo15Pipeline.load(PipelineFixtures.root().resolve("tiny-meanflow"), CTX)) {
            Map<String, Tensor> c = PipelineFixtures.read(CTX.checkpoints(), "i2v_meanflow");
            GenerationResult r = meanflow.generate(PipelineFixtures.i2v(c, 1.0, 3), CTX, ProgressListener.NONE);
            double latentErr = PipelineFixtures.maxAbsDiff(r.latents(), c.get("latents"));
            System.out.printf("golden pipeline i2v_meanflow: latents max abs error %.3g%n", latentErr);
            assertTrue(latentErr <= TOLERANCE, "meanflow I2V latents max abs error " + latentErr);
        }
    }

    @Test
    void missingEmbeddingsAreAClearError() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> c = PipelineFixtures.read(CTX.checkpoints(), "t2v_cfg");
            GenerationRequest noNegative = withEmbeds(PipelineFixtures.t2v(c), Map.of("prompt_embeds", c.get("prompt_embeds"),
                    "prompt_embeds_mask", c.get("prompt_embeds_mask"), "prompt_embeds_2", c.get("prompt_embeds_2"),
                    "prompt_embeds_mask_2", c.get("prompt_embeds_mask_2")));
            String message = assertThrows(DiffuseException.class,
                    () -> pipeline.generate(noNegative, CTX, ProgressListener.NONE)).getMessage();
            assertTrue(message.contains("negative_prompt_embeds"), message);
            GenerationRequest none = withEmbeds(PipelineFixtures.t2v(c), Map.of());
            message = assertThrows(DiffuseException.class, () -> pipeline.generate(none, CTX, ProgressListener.NONE)).getMessage();
            assertTrue(message.contains("--prompt-embeds"), message);
            GenerationRequest badFrames = GenerationRequest.builder().size(64, 64).numFrames(6).numInferenceSteps(2)
                    .guidanceScale(6.0).seed(1).promptEmbeds(PipelineFixtures.t2v(c).promptEmbeds()).build();
            message = assertThrows(DiffuseException.class, () -> pipeline.generate(badFrames, CTX, ProgressListener.NONE)).getMessage();
            assertTrue(message.contains("--num-frames"), message);
        }
    }

    private static GenerationRequest withEmbeds(GenerationRequest r, Map<String, Tensor> embeds) {
        return r.toBuilder().promptEmbeds(embeds).build();
    }

    static ProgressListener recorder(List<String> events) {
        return new ProgressListener() {
            @Override
            public void stageStarted(String stage) {
                events.add("start " + stage);
            }

            @Override
            public void step(String stage, int step, int total) {
                events.add(stage + " " + step + "/" + total);
            }

            @Override
            public void stageFinished(String stage) {
                events.add("end " + stage);
            }
        };
    }
}
