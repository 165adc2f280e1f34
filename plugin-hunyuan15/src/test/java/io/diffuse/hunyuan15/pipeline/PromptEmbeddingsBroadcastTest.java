package io.diffuse.hunyuan15.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.core.local.LocalStrategy;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.testkit.SingleRankContext;
import io.diffuse.testkit.ThreadRanks;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * World rank 0 alone computes the prompt embeddings and broadcasts them: on 2 thread ranks over Gloo
 * with CFG parallel 2 (rank 0 runs the conditional branch, rank 1 the unconditional one, so rank 1
 * needs the negative_* embeddings it never computes), rank 1 is given a pipeline that cannot make
 * embeddings at all (no prompt encoder, and no embeddings in its request): it would fail with "this
 * model has no text encoders" if it still ran the encoding. Its latents must equal the single-rank
 * latents bit for bit, which holds only if every tensor arrived with its dtype, shape and values
 * (CFG parallel gathers the two branch predictions and combines them with the single-rank formula,
 * so the arithmetic is the same). When rank 0 cannot encode, every rank stops with an error, none
 * waits in a collective (ThreadRanks fails a rank that is still running after its 30 s timeout).
 */
class PromptEmbeddingsBroadcastTest {
    private static final ParallelPlan CFG_PARALLEL = new ParallelPlan(2, 1, 1, 2, 1);

    @TempDir
    Path bare;

    private static SingleRankContext single() {
        return new SingleRankContext(DType.FP32, new LocalVaeExecutor(), TilingSettings.defaults(false));
    }

    private static SingleRankContext rank(io.diffuse.api.dist.ProcessGroups groups) {
        return new SingleRankContext(DType.FP32, groups, new LocalStrategy(), new LocalVaeExecutor(),
                TilingSettings.defaults(false), true);
    }

    /** Guidance 6 (both branches), 32x32, 5 frames, 2 steps of the demo model. */
    private static GenerationRequest demoText(String prompt) {
        return GenerationRequest.builder().prompt(prompt).negativePrompt("blurry").size(32, 32).numFrames(5).numInferenceSteps(2)
                .guidanceScale(6.0).seed(5).build();
    }

    /** The demo model with no prompt encoder: the same transformer and VAE (same seed), nothing to encode text with. */
    private HunyuanVideo15Pipeline demoWithoutEncoders(SingleRankContext ctx) {
        DemoPipeline.write(bare, ctx);
        return HunyuanVideo15Pipeline.load(bare, ctx);
    }

    private static String compare(GenerationResult r, Tensor reference) {
        Tensor latents = r.latents().to(new Device("cpu"), ScalarType.Float);
        return latents.equal(reference) ? "identical" : "latents differ by " + PipelineFixtures.maxAbsDiff(latents, reference);
    }

    /**
     * {@code request} on 2 CFG-parallel thread ranks where only rank 0 has the demo's encoders, each rank's
     * latents compared with the single-rank run: "identical", how far they differ, or the rank's error.
     */
    private List<String> encodersOnRankZeroOnly(GenerationRequest request) {
        try (PointerScope scope = new PointerScope()) {
            Tensor reference;
            SingleRankContext one = single();
            try (HunyuanVideo15Pipeline pipeline = DemoPipeline.create(one)) {
                reference = pipeline.generate(request, one, ProgressListener.NONE).latents().to(new Device("cpu"), ScalarType.Float);
            }
            return ThreadRanks.run(CFG_PARALLEL, groups -> {
                SingleRankContext ctx = rank(groups);
                boolean root = groups.world().rank() == 0;
                try (PointerScope s = new PointerScope();
                        HunyuanVideo15Pipeline pipeline = root ? DemoPipeline.create(ctx) : demoWithoutEncoders(ctx)) {
                    return compare(pipeline.generate(request, ctx, ProgressListener.NONE), reference);
                } catch (DiffuseException e) {
                    return e.getMessage();
                }
            });
        }
    }

    @Test
    void onlyRankZeroEncodesThePromptText() {
        GenerationRequest request = demoText("a cat holding a sign that says \"hello\"");
        assertEquals(List.of("identical", "identical"), encodersOnRankZeroOnly(request));
    }

    /**
     * Image-to-video: rank 0 also encodes the (broadcast) input image with SigLIP; rank 1, with neither
     * a prompt nor an image encoder, would stop with "image-to-video needs SigLIP image embeddings" if it
     * still encoded the image itself.
     */
    @Test
    void onlyRankZeroEncodesTheInputImage() {
        GenerationRequest request = GenerationRequest.builder().prompt("a cat").negativePrompt("blurry")
                .image(PipelineFixtures.root().resolve("image.png")).numFrames(5).numInferenceSteps(2).guidanceScale(6.0).seed(3)
                .build();
        assertEquals(List.of("identical", "identical"), encodersOnRankZeroOnly(request));
    }

    /**
     * Given embeddings in every dtype family the pipeline accepts (bfloat16 and float64 states that it
     * casts to the run dtype, bool, int32, uint8 and int64 masks, which it reads as non-zero = token)
     * cross as they are: rank 1's request carries none, so all it has is what rank 0 sent.
     */
    @Test
    void givenEmbeddingsOfEveryDtypeArriveBitExact() {
        try (PointerScope scope = new PointerScope()) {
            SingleRankContext one = single();
            Map<String, Tensor> c = PipelineFixtures.read(one.checkpoints(), "t2v_cfg");
            GenerationRequest fixture = PipelineFixtures.t2v(c);
            Map<String, Tensor> mixed = new HashMap<>(fixture.promptEmbeds());
            mixed.put("prompt_embeds", mixed.get("prompt_embeds").to(ScalarType.BFloat16));
            mixed.put("negative_prompt_embeds_2", mixed.get("negative_prompt_embeds_2").to(ScalarType.Double));
            mixed.put("prompt_embeds_mask", mixed.get("prompt_embeds_mask").to(ScalarType.Bool));
            mixed.put("prompt_embeds_mask_2", mixed.get("prompt_embeds_mask_2").to(ScalarType.Int));
            mixed.put("negative_prompt_embeds_mask", mixed.get("negative_prompt_embeds_mask").to(ScalarType.Byte));
            mixed.put("negative_prompt_embeds_mask_2", mixed.get("negative_prompt_embeds_mask_2").to(ScalarType.Long));
            GenerationRequest given = withEmbeds(fixture, mixed);
            GenerationRequest none = withEmbeds(fixture, Map.of());
            Path tiny = PipelineFixtures.root().resolve("tiny");
            Tensor reference;
            try (HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(tiny, one)) {
                reference = pipeline.generate(given, one, ProgressListener.NONE).latents().to(new Device("cpu"), ScalarType.Float);
            }
            List<String> outcomes = ThreadRanks.run(CFG_PARALLEL, groups -> {
                SingleRankContext ctx = rank(groups);
                boolean root = groups.world().rank() == 0;
                try (PointerScope s = new PointerScope(); HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(tiny, ctx)) {
                    return compare(pipeline.generate(root ? given : none, ctx, ProgressListener.NONE), reference);
                } catch (DiffuseException e) {
                    return e.getMessage();
                }
            });
            assertEquals(List.of("identical", "identical"), outcomes);
        }
    }

    /**
     * The map itself: rank 1 ends with exactly the keys, dtypes, shapes and values rank 0 has, for every
     * safetensors element type (float16, int16 and int8 included), a 0-dim tensor and an empty one
     * (sent as its header only). The pipeline checks only which keys are present at this point, so odd
     * shapes reach the broadcast as they would from a file. Rank 1's request has no embeddings; it
     * rebuilds the expected tensors from the same formula to compare.
     */
    @Test
    void everyDtypeAndShapeCrossesAsItIs() {
        List<String> outcomes = ThreadRanks.run(CFG_PARALLEL, groups -> {
            SingleRankContext ctx = rank(groups);
            boolean root = groups.world().rank() == 0;
            try (PointerScope s = new PointerScope();
                    HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(PipelineFixtures.root().resolve("tiny"), ctx)) {
                Map<String, Tensor> sent = oddEmbeddings();
                Map<String, Tensor> got = pipeline.sharedEmbeddings(withEmbeds(demoText("unused"), root ? sent : Map.of()), true,
                        null, groups.world(), ctx.device());
                if (root) {
                    return got == sent ? "kept" : "rank 0 replaced its own map";
                }
                if (!got.keySet().equals(sent.keySet())) {
                    return "keys " + got.keySet();
                }
                for (Map.Entry<String, Tensor> e : sent.entrySet()) {
                    Tensor g = got.get(e.getKey());
                    Tensor want = e.getValue();
                    String arrived = e.getKey() + " arrived as " + g.scalar_type() + java.util.Arrays.toString(g.sizes().vec().get())
                            + " on " + g.device().str().getString();
                    // dtypes by code: JavaCPP may hand back a ScalarType instance other than the enum constant.
                    if (g.scalar_type().value != want.scalar_type().value || !java.util.Arrays.equals(g.sizes().vec().get(), want.sizes().vec().get())
                            || !g.device().str().getString().equals(ctx.device().str().getString())) {
                        return arrived;
                    }
                    if (!g.to(new Device("cpu"), g.scalar_type()).equal(want)) {
                        return arrived + " with other values";
                    }
                }
                return "received";
            } catch (DiffuseException e) {
                return e.getMessage();
            }
        });
        assertEquals(List.of("kept", "received"), outcomes);
    }

    /** The 9 shared keys, each of another dtype and with distinct values (signed, fractional where the dtype allows). */
    private static Map<String, Tensor> oddEmbeddings() {
        Object[][] spec = {
            {"prompt_embeds", ScalarType.BFloat16, new long[] {1, 3, 5}},
            {"prompt_embeds_mask", ScalarType.Bool, new long[] {1, 7}},
            {"prompt_embeds_2", ScalarType.Half, new long[] {}},
            {"prompt_embeds_mask_2", ScalarType.Short, new long[] {2, 0, 4}},
            {"negative_prompt_embeds", ScalarType.Double, new long[] {1, 2, 3}},
            {"negative_prompt_embeds_mask", ScalarType.Char, new long[] {1, 9}},
            {"negative_prompt_embeds_2", ScalarType.Float, new long[] {1, 4, 2}},
            {"negative_prompt_embeds_mask_2", ScalarType.Int, new long[] {1, 6}},
            {HunyuanVideo15Pipeline.IMAGE_EMBEDS, ScalarType.Long, new long[] {1, 2, 2}}};
        Map<String, Tensor> m = new HashMap<>();
        for (int i = 0; i < spec.length; i++) {
            long[] shape = (long[]) spec[i][2];
            long numel = java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y);
            // (numel,) float64: -numel .. numel in steps of 1.37 + i, then the dtype, then the shape.
            Tensor values = org.bytedeco.pytorch.global.torch.arange(new org.bytedeco.pytorch.Scalar(numel),
                    new org.bytedeco.pytorch.TensorOptions(ScalarType.Double)).mul(new org.bytedeco.pytorch.Scalar(1.37 + i))
                    .sub(new org.bytedeco.pytorch.Scalar((double) numel));
            if (spec[i][1] == ScalarType.Bool) { // a Java constant here, not one returned by libtorch
                values = values.remainder(new org.bytedeco.pytorch.Scalar(2.0)).floor(); // mixed 0 and 1
            }
            m.put((String) spec[i][0], values.to((ScalarType) spec[i][1]).reshape(shape));
        }
        return m;
    }

    /** Rank 0 has no prompt encoder, rank 1 has one: rank 0 reports why, rank 1 that rank 0 failed and why, and neither hangs. */
    @Test
    void whenRankZeroCannotEncodeEveryRankStops() {
        GenerationRequest request = demoText("a dog");
        List<String> outcomes = ThreadRanks.run(CFG_PARALLEL, groups -> {
            SingleRankContext ctx = rank(groups);
            boolean root = groups.world().rank() == 0;
            try (PointerScope s = new PointerScope();
                    HunyuanVideo15Pipeline pipeline = root ? demoWithoutEncoders(ctx) : DemoPipeline.create(ctx)) {
                pipeline.generate(request, ctx, ProgressListener.NONE);
                return "generated";
            } catch (DiffuseException e) {
                return e.getMessage();
            }
        });
        assertTrue(outcomes.get(0).startsWith("this model has no text encoders (no text_encoder/ folder)"), outcomes.get(0));
        assertEquals("world rank 0 failed to encode the prompt: " + outcomes.get(0), outcomes.get(1));
    }

    private static GenerationRequest withEmbeds(GenerationRequest r, Map<String, Tensor> embeds) {
        return r.toBuilder().promptEmbeds(embeds).build();
    }
}
