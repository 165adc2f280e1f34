package io.diffuse.hunyuan15.pipeline;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.GenerationRequest;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** The whole-pipeline fixtures of tools/reference/gen_pipeline.py and the requests that reproduce them. */
public final class PipelineFixtures {
    /** Settings gen_pipeline.py used: 64x64, 5 frames, 3 steps, shift from the scheduler config (5). */
    public static final int SIZE = 64;
    public static final int FRAMES = 5;
    public static final int STEPS = 3;

    private PipelineFixtures() {
    }

    /** fixtures/pipeline. */
    public static Path root() {
        try {
            return Path.of(PipelineFixtures.class.getResource("/fixtures/pipeline").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A case file's tensors: embeddings as diffusers' argument names, plus latents (and video). */
    public static Map<String, Tensor> read(CheckpointLoader loader, String name) {
        return loader.readTensors(root().resolve(name + ".safetensors"));
    }

    /** The T2V request of t2v_cfg: guidance 6, seed 42. */
    public static GenerationRequest t2v(Map<String, Tensor> c) {
        return GenerationRequest.builder().size(SIZE, SIZE).numFrames(FRAMES).numInferenceSteps(STEPS).guidanceScale(6.0).seed(42)
                .promptEmbeds(embeds(c)).build();
    }

    /** The I2V request of i2v_cfg (guidance 6, seed 7) or i2v_meanflow (guidance 1, seed 3), from image.png. */
    public static GenerationRequest i2v(Map<String, Tensor> c, double guidance, long seed) {
        return GenerationRequest.builder().image(root().resolve("image.png")).numFrames(FRAMES).numInferenceSteps(STEPS)
                .guidanceScale(guidance).seed(seed).promptEmbeds(embeds(c)).build();
    }

    private static Map<String, Tensor> embeds(Map<String, Tensor> c) {
        Map<String, Tensor> m = new HashMap<>(c);
        m.remove("latents");
        m.remove("video");
        return m;
    }

    /** Largest absolute difference, in float32 on the CPU (results may come from -Ddiffuse.test.device). */
    public static double maxAbsDiff(Tensor a, Tensor b) {
        org.bytedeco.pytorch.Device cpu = new org.bytedeco.pytorch.Device("cpu");
        return a.to(cpu, ScalarType.Float).sub(b.to(cpu, ScalarType.Float)).abs().max().item().toDouble();
    }
}
