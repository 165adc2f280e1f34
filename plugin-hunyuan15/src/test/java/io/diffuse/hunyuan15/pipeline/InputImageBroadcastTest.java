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
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The I2V input image is read, decoded and preprocessed by world rank 0 only and broadcast to the
 * other ranks: on 2 thread ranks over Gloo (CFG parallel 2), rank 1 is handed a path that does not
 * exist and still produces diffusers' I2V latents (1e-4, as single-rank: the same arithmetic), so it
 * never opened the file. When rank 0 cannot read the image, every rank stops with an error.
 */
class InputImageBroadcastTest {
    private static final ParallelPlan PLAN = new ParallelPlan(2, 1, 1, 2, 1);

    private static GenerationRequest request(Map<String, Tensor> fixture, Path image) {
        GenerationRequest r = PipelineFixtures.i2v(fixture, 6.0, 7);
        return r.toBuilder().image(image).build();
    }

    /** Runs the I2V fixture on 2 ranks, rank r reading {@code images.get(r)}; each rank's latent error or its error message. */
    private static List<String> run(List<Path> images) {
        return ThreadRanks.run(PLAN, groups -> {
            SingleRankContext ctx = new SingleRankContext(DType.FP32, groups, new LocalStrategy(), new LocalVaeExecutor(),
                    TilingSettings.defaults(false), true);
            try (PointerScope scope = new PointerScope();
                    HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(PipelineFixtures.root().resolve("tiny"), ctx)) {
                Map<String, Tensor> c = new HashMap<>(PipelineFixtures.read(ctx.checkpoints(), "i2v_cfg"));
                GenerationResult r = pipeline.generate(request(c, images.get(groups.world().rank())), ctx, ProgressListener.NONE);
                return "latents error " + PipelineFixtures.maxAbsDiff(r.latents(), c.get("latents"));
            } catch (DiffuseException e) {
                return e.getMessage();
            }
        });
    }

    @Test
    void onlyRankZeroReadsTheImage() {
        Path image = PipelineFixtures.root().resolve("image.png");
        List<String> outcomes = run(List.of(image, image.resolveSibling("not-on-this-rank.png")));
        for (int rank = 0; rank < 2; rank++) {
            String o = outcomes.get(rank);
            assertTrue(o.startsWith("latents error ") && Double.parseDouble(o.substring(14)) <= 1e-4, "rank " + rank + ": " + o);
        }
    }

    @Test
    void whenRankZeroCannotReadTheImageEveryRankStops() {
        Path missing = PipelineFixtures.root().resolve("missing.png");
        List<String> outcomes = run(List.of(missing, PipelineFixtures.root().resolve("image.png")));
        assertEquals("image " + missing + " does not exist; give a PNG or JPEG with --image", outcomes.get(0));
        assertEquals("world rank 0 could not read the input image " + PipelineFixtures.root().resolve("image.png")
                + " (its error says why)", outcomes.get(1));
    }
}
