package io.diffuse.hunyuan15.pipeline;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.MemoryPlan;
import io.diffuse.api.model.Task;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The estimate's shape: it grows with the video, the explicit-score attention path adds its quadratic
 * term, and issue 19's request is far beyond any host (its agreement with measured peaks is
 * ServeAdmissionTest's).
 */
class HunyuanVideo15MemoryEstimateTest {
    private static final MemoryPlan DEMO_PLAN = plan("auto");

    private static MemoryPlan plan(String attention) {
        return new MemoryPlan(DType.FP32, new ParallelPlan(2, 2, 1, 1, 2), new TilingSettings(true, 64, 0.25), attention, null);
    }

    private static long demo(int width, int height, int frames, MemoryPlan plan) {
        GenerationRequest request = new GenerationRequest(Task.TEXT_TO_VIDEO, "a cat", "", Optional.empty(), Optional.of(height),
                Optional.of(width), frames, 2, 6.0, Optional.empty(), 0, Map.of());
        return HunyuanVideo15MemoryEstimate.bytes(DemoPipeline.transformerConfig(), DemoPipeline.vaeConfig(),
                DemoPipeline.textTokens(), 128, request, plan);
    }

    @Test
    void growsWithTheVideoAndWithExplicitScores() {
        assertTrue(demo(128, 128, 17, DEMO_PLAN) > HunyuanVideo15MemoryEstimate.FIXED_BYTES);
        assertTrue(demo(256, 256, 17, DEMO_PLAN) > demo(128, 128, 17, DEMO_PLAN));
        assertTrue(demo(256, 256, 33, DEMO_PLAN) > demo(256, 256, 17, DEMO_PLAN));
        // 1024x1024x65: 17 x 64 x 64 tokens, whose 2-head score matrices alone are gigabytes.
        assertTrue(demo(1024, 1024, 65, plan("math")) > demo(1024, 1024, 65, DEMO_PLAN) + (4L << 30));
        assertTrue(demo(16384, 16384, 257, DEMO_PLAN) > 1L << 40, "issue 19's request fits under 1 TiB?");
    }
}
