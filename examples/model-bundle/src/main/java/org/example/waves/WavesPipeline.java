package org.example.waves;

import io.diffuse.api.config.PluginSettings;
import io.diffuse.api.model.GenerationInterruptedException;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.runtime.RuntimeContext;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The toy-waves pipeline. Latents are one token per 8 x 8 pixel patch per frame, 16 channels; each
 * denoising step moves them towards one attention layer's output. Tokens are sharded by the run's
 * sequence-parallel attention, so 1 rank and N ranks give the same video.
 */
final class WavesPipeline implements Pipeline {
    static final int PATCH = 8;
    static final int HEADS = 2;
    static final int HEAD_DIM = 8;
    static final int CHANNELS = HEADS * HEAD_DIM;

    private final Tensor wq;
    private final Tensor wk;
    private final Tensor wv;
    private final double speed;

    WavesPipeline(ModelContext context) {
        // Weights from a fixed seed (CPU generator, like torch.Generator("cpu")), then on the run's device.
        Generator g = torch.createCPUGenerator(7);
        TensorOptions f32 = new TensorOptions(ScalarType.Float);
        double scale = 1 / Math.sqrt(CHANNELS);
        wq = torch.randn(new long[] {CHANNELS, CHANNELS}, new GeneratorOptional(g), f32).mul(new Scalar(scale)).to(context.device(), ScalarType.Float);
        wk = torch.randn(new long[] {CHANNELS, CHANNELS}, new GeneratorOptional(g), f32).mul(new Scalar(scale)).to(context.device(), ScalarType.Float);
        wv = torch.randn(new long[] {CHANNELS, CHANNELS}, new GeneratorOptional(g), f32).mul(new Scalar(scale)).to(context.device(), ScalarType.Float);
        for (Tensor t : new Tensor[] {wq, wk, wv}) {
            t.retainReference(); // held for the pipeline's life, released in close()
        }
        speed = PluginSettings.of("diffuse.waves", context.configuration("diffuse.waves")).number("speed", 1.0);
    }

    @Override
    public GenerationResult generate(GenerationRequest request, RuntimeContext context, ProgressListener progress) {
        int frames = request.numFrames();
        int height = request.height().orElse(64);
        int width = request.width().orElse(64);
        long h = height / PATCH;
        long w = width / PATCH;
        long tokens = frames * h * w;
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            progress.stageStarted("denoise");
            Generator g = torch.createCPUGenerator(request.seed());
            // (1, tokens, C) noise from the request's seed, then on the run's device.
            Tensor x = torch.randn(new long[] {1, tokens, CHANNELS}, new GeneratorOptional(g),
                    new TensorOptions(ScalarType.Float)).to(context.device(), ScalarType.Float);
            SequenceParallelAttention attention = context.attention();
            SequenceLayout layout = attention.layout(tokens);
            Tensor xs = attention.shard(x, 1); // (1, shard, C)
            int steps = request.numInferenceSteps();
            for (int i = 0; i < steps; i++) {
                long s = xs.size(1);
                Tensor q = xs.matmul(wq).view(1, s, HEADS, HEAD_DIM);
                Tensor k = xs.matmul(wk).view(1, s, HEADS, HEAD_DIM);
                Tensor v = xs.matmul(wv).view(1, s, HEADS, HEAD_DIM);
                Tensor out = attention.attention(q, k, v, null, layout).video().reshape(1, s, CHANNELS);
                xs = xs.add(out.sub(xs).mul(new Scalar(1.0 / steps)));
                progress.step("denoise", i + 1, steps);
                if (progress.interruptRequested("denoise", i + 1, steps)) {
                    throw new GenerationInterruptedException("denoise", i + 1, steps);
                }
            }
            Tensor latents = attention.gather(xs, 1, layout) // (1, tokens, C)
                    .view(1, frames, h, w, CHANNELS).permute(0, 4, 1, 2, 3).contiguous(); // (1, C, T, h, w)
            progress.stageFinished("denoise");

            progress.stageStarted("decode");
            Tensor video = decode(latents, frames, height, width, request.prompt().length(), context);
            progress.stageFinished("decode");
            for (Tensor t : new Tensor[] {latents, video}) {
                if (outer != null) {
                    outer.attach(t);
                } else {
                    t.retainReference();
                }
            }
            // Stage times and memory are measured by the engine around the progress events.
            return new GenerationResult(latents, video, Map.of(), Map.of());
        }
    }

    /** Waves travelling across the frame, tinted by the latents' first three channels: (1, 3, T, H, W) in [0, 1]. */
    private Tensor decode(Tensor latents, int frames, int height, int width, int phase, RuntimeContext context) {
        TensorOptions f32 = new TensorOptions(ScalarType.Float).device(new org.bytedeco.pytorch.DeviceOptional(context.device()));
        Tensor t = torch.arange(new Scalar(frames), f32).view(1, 1, frames, 1, 1);
        Tensor y = torch.arange(new Scalar(height), f32).view(1, 1, 1, height, 1);
        Tensor x = torch.arange(new Scalar(width), f32).view(1, 1, 1, 1, width);
        Tensor channel = torch.arange(new Scalar(3), f32).view(1, 3, 1, 1, 1);
        Tensor wave = x.mul(new Scalar(2 * Math.PI / width)).add(y.mul(new Scalar(Math.PI / height)))
                .sub(t.mul(new Scalar(speed * 2 * Math.PI / Math.max(1, frames))))
                .add(channel.mul(new Scalar(2.0))).add(new Scalar(phase % 7)).sin().mul(new Scalar(0.35)).add(new Scalar(0.5));
        Tensor tint = latents.narrow(1, 0, 3).sigmoid() // (1, 3, T, h, w) -> (1, 3, T, H, W), nearest
                .repeat_interleave(PATCH, new LongOptional(3), new LongOptional())
                .repeat_interleave(PATCH, new LongOptional(4), new LongOptional());
        return wave.add(tint).div(new Scalar(2)).clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(0.0)),
                new org.bytedeco.pytorch.ScalarOptional(new Scalar(1.0)));
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {wq, wk, wv}) {
            t.releaseReference();
        }
    }
}
