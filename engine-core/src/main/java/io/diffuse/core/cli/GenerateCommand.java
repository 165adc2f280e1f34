package io.diffuse.core.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.ModelSource;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.model.Task;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.dist.EngineRuntime;
import io.diffuse.core.registry.PluginRegistry;
import io.diffuse.core.video.Mp4Writer;
import io.diffuse.core.video.VideoExport;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code diffuse generate}: text-to-video (or image-to-video with {@code --image}) with a whole
 * pipeline, on one rank or many. Every rank runs the pipeline; rank 0 writes the outputs atomically,
 * draws the progress bar on stderr and prints a time and peak-memory summary per stage. Without
 * {@code --model} it runs the built-in tiny random-weight demo model (whose output is noise) on 2
 * local ranks with USP and VAE patch parallelism, unless parallel flags say otherwise.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a video (text-to-video, or image-to-video with --image).",
            "Every flag has a configuration key diffuse.generate.<flag name>; parallel flags as in run-component."})
public final class GenerateCommand extends RankedCommand {
    /** The built-in model used without --model. */
    static final String DEMO = "demo";
    /** The model family of the built-in demo. */
    static final String DEMO_FAMILY = "hunyuanvideo-1.5";

    @Option(names = "--model", paramLabel = "DIR", description = "diffusers pipeline root; omit for the built-in demo model.")
    Path model;
    @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt.")
    String prompt;
    @Option(names = "--negative-prompt", paramLabel = "TEXT", description = "The negative prompt (default \"\").")
    String negativePrompt;
    @Option(names = "--image", paramLabel = "FILE", description = "Input image: image-to-video.")
    Path image;
    @Option(names = "--height", paramLabel = "PX", description = "Video height (default: the model's bucket).")
    Integer height;
    @Option(names = "--width", paramLabel = "PX", description = "Video width (default: the model's bucket).")
    Integer width;
    @Option(names = "--num-frames", paramLabel = "N", description = "Frames, 4k+1 (default 121).")
    Integer numFrames;
    @Option(names = "--num-inference-steps", paramLabel = "N", description = "Denoising steps (default 50).")
    Integer numInferenceSteps;
    @Option(names = "--guidance-scale", paramLabel = "S", description = "Classifier-free guidance scale; 1 = one pass (default 6.0).")
    Double guidanceScale;
    @Option(names = "--flow-shift", paramLabel = "S", description = "Flow shift (default: the model's scheduler config).")
    Double flowShift;
    @Option(names = "--seed", paramLabel = "N", description = "Seed of the initial noise (as torch.Generator('cpu').manual_seed).")
    Long seed;
    @Option(names = "--fps", paramLabel = "N", description = "Frames per second of the MP4 (default 24).")
    Integer fps;
    @Option(names = "--output", paramLabel = "FILE", description = "MP4 file to write.")
    Path output;
    @Option(names = "--output-tensors", paramLabel = "FILE", description = "safetensors file with latents (B,C,T,H,W) and video (B,C,F,H,W) in [0,1].")
    Path outputTensors;
    @Option(names = "--png-frames", paramLabel = "DIR", description = "Directory to write the frames to as PNG files (frame-00000.png, ...).")
    Path pngFrames;
    @Option(names = "--prompt-embeds", paramLabel = "FILE", description = "safetensors with precomputed embeddings (diffusers argument names).")
    Path promptEmbeds;

    /** The settings after flags and defaults, fixed in {@link #adjust}. */
    private Config generate;
    /** Whether the user chose a parallel layout (read before a rank fills --nproc from WORLD_SIZE). */
    private boolean parallelFlagsGiven;

    public GenerateCommand(CliEnvironment env) {
        super(env);
    }

    @Override
    public Integer call() {
        parallelFlagsGiven = options.nproc != null || options.ulysses != null || options.ring != null || options.cfg != null;
        return super.call();
    }

    @Override
    protected Config adjust(Config config) {
        Map<String, Object> f = new LinkedHashMap<>();
        put(f, "model", model);
        put(f, "prompt", prompt);
        put(f, "negative-prompt", negativePrompt);
        put(f, "image", image);
        put(f, "height", height);
        put(f, "width", width);
        put(f, "num-frames", numFrames);
        put(f, "num-inference-steps", numInferenceSteps);
        put(f, "guidance-scale", guidanceScale);
        put(f, "flow-shift", flowShift);
        put(f, "seed", seed);
        put(f, "fps", fps);
        put(f, "output", output);
        put(f, "output-tensors", outputTensors);
        put(f, "png-frames", pngFrames);
        put(f, "prompt-embeds", promptEmbeds);
        Config withFlags = ConfigFactory.parseMap(f).withFallback(config);
        boolean demo = withFlags.getString("diffuse.generate.model").isEmpty();
        if (demo) {
            withFlags = demoDefaults(withFlags);
        }
        generate = withFlags.getConfig("diffuse.generate");
        return withFlags;
    }

    private static void put(Map<String, Object> f, String key, Object value) {
        if (value != null) {
            f.put("diffuse.generate." + key, value instanceof Path p ? p.toString() : value);
        }
    }

    /**
     * The demo's defaults where the user gave no flag: 2 local ranks, ulysses 2 (USP strategy), VAE
     * patch parallel over both with 64 px tiles, a 128 x 128 x 17-frame video in 8 steps.
     */
    private Config demoDefaults(Config config) {
        Map<String, Object> d = new LinkedHashMap<>();
        if (!parallelFlagsGiven) {
            d.put("diffuse.parallel.nproc", 2);
            d.put("diffuse.parallel.ulysses", 2);
            d.put("diffuse.parallel.strategy", "usp");
            d.put("diffuse.parallel.vae", 2);
            d.put("diffuse.vae.tiling", true);
            d.put("diffuse.vae.tile-size", 64);
            d.put("diffuse.vae.tile-overlap", 0.25);
        }
        if (height == null && width == null) {
            d.put("diffuse.generate.height", 128);
            d.put("diffuse.generate.width", 128);
        }
        if (numFrames == null) {
            d.put("diffuse.generate.num-frames", 17);
        }
        if (numInferenceSteps == null) {
            d.put("diffuse.generate.num-inference-steps", 8);
        }
        return ConfigFactory.parseMap(d).withFallback(config);
    }

    private Optional<Path> path(String key) {
        String v = generate.getString(key);
        return v.isEmpty() ? Optional.empty() : Optional.of(Path.of(v));
    }

    @Override
    protected void checkBeforeRanks(io.diffuse.core.config.EngineSettings settings) {
        Optional<Path> modelDir = path("model");
        if (modelDir.isPresent() && !Files.isDirectory(modelDir.get())) {
            throw new DiffuseException("--model " + modelDir.get() + " is not a directory; give a diffusers pipeline root");
        }
        for (String key : List.of("image", "prompt-embeds")) {
            Optional<Path> p = path(key);
            if (p.isPresent() && !Files.isRegularFile(p.get())) {
                throw new DiffuseException("--" + key + " " + p.get() + " does not exist or is not a file");
            }
        }
        Optional<Path> mp4 = path("output");
        Optional<Path> tensors = path("output-tensors");
        Optional<Path> frames = path("png-frames");
        if (mp4.isEmpty() && tensors.isEmpty() && frames.isEmpty()) {
            throw new DiffuseException("nothing to write: give --output FILE.mp4, --png-frames DIR and/or --output-tensors"
                    + " FILE.safetensors");
        }
        if (frames.isPresent() && Files.exists(frames.get()) && !Files.isDirectory(frames.get())) {
            throw new DiffuseException("--png-frames " + frames.get() + " is a file; give a directory path");
        }
        if (generate.getInt("fps") < 1) {
            throw new DiffuseException("--fps must be at least 1, got " + generate.getInt("fps"));
        }
        for (Optional<Path> out : List.of(mp4, tensors, frames)) {
            if (out.isPresent()) {
                Path parent = out.get().toAbsolutePath().getParent();
                if (parent == null || !Files.isDirectory(parent)) {
                    throw new DiffuseException(out.get() + ": directory " + parent + " does not exist");
                }
            }
        }
        if (settings.parallel().cfg() == 2 && Math.abs(generate.getDouble("guidance-scale") - 1.0) < 1e-9) {
            throw new DiffuseException("--cfg-parallel 2 splits the conditional and unconditional passes, but guidance scale 1"
                    + " runs only one; use --cfg-parallel 1");
        }
        provider(env.registry(), modelDir);
    }

    @Override
    protected int runOnRank(EngineRuntime runtime) {
        DiffusersCheckpointLoader checkpoints = new DiffusersCheckpointLoader();
        Optional<Path> modelDir = path("model");
        ModelProvider provider = provider(env.registry(), modelDir);
        boolean rank0 = runtime.rank() == 0;
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        if (modelDir.isEmpty() && rank0) {
            out.println("Built-in demo model: tiny random weights, so the video is noise. Give --model DIR for a real checkpoint.");
            out.flush();
        }
        var context = runtime.context(checkpoints);
        try (PointerScope scope = new PointerScope();
                Pipeline pipeline = provider.load(modelDir.map(ModelSource::directory).orElse(ModelSource.builtin(DEMO)), context)) {
            Map<String, Tensor> embeds = path("prompt-embeds").map(checkpoints::readTensors).orElse(Map.of());
            Optional<Path> imagePath = path("image");
            int h = generate.getInt("height");
            int w = generate.getInt("width");
            double shift = generate.getDouble("flow-shift");
            GenerationRequest request = new GenerationRequest(imagePath.isPresent() ? Task.IMAGE_TO_VIDEO : Task.TEXT_TO_VIDEO,
                    generate.getString("prompt"), generate.getString("negative-prompt"), imagePath,
                    h > 0 ? Optional.of(h) : Optional.empty(), w > 0 ? Optional.of(w) : Optional.empty(),
                    generate.getInt("num-frames"), generate.getInt("num-inference-steps"), generate.getDouble("guidance-scale"),
                    shift > 0 ? Optional.of(shift) : Optional.empty(), generate.getLong("seed"), embeds);
            ProgressListener progress = rank0 ? new TerminalProgress(err) : ProgressListener.NONE;
            GenerationResult result = pipeline.generate(request, context, progress);
            if (rank0) {
                Optional<Path> tensors = path("output-tensors");
                if (tensors.isPresent()) {
                    Map<String, Tensor> t = new LinkedHashMap<>();
                    t.put("latents", result.latents().contiguous());
                    if (result.video() != null) {
                        t.put("video", result.video().contiguous());
                    }
                    checkpoints.writeTensors(tensors.get(), t);
                    out.println("wrote " + tensors.get() + " (latents " + shape(result.latents())
                            + (result.video() != null ? ", video " + shape(result.video()) : "") + ")");
                }
                Optional<Path> mp4 = path("output");
                Optional<Path> frames = path("png-frames");
                if ((mp4.isPresent() || frames.isPresent()) && result.video() == null) {
                    throw new DiffuseException("rank 0 received no decoded video; set diffuse.vae.result-on-all-ranks or "
                            + "use a VAE executor that returns the video to rank 0");
                }
                if (frames.isPresent()) {
                    for (Path written : VideoExport.writePngFrames(result.video(), frames.get())) {
                        out.println("wrote " + written + " (" + result.video().size(2) + " PNG frames)");
                    }
                }
                if (mp4.isPresent()) {
                    Mp4Writer writer = new Mp4Writer(generate.getInt("fps"));
                    for (Path written : VideoExport.writeMp4(result.video(), mp4.get(), writer)) {
                        out.println("wrote " + written + " (" + writer.encoder() + ", " + writer.fps() + " fps)");
                    }
                }
                out.println(summary(result, runtime.worldSize()));
                out.flush();
            }
            return 0;
        }
    }

    private static String shape(Tensor t) {
        return java.util.Arrays.toString(t.sizes().vec().get());
    }

    /** Time and peak resident memory per stage. */
    static String summary(GenerationResult result, int ranks) {
        StringBuilder sb = new StringBuilder("stage      time       peak RSS (rank 0)\n");
        Duration total = Duration.ZERO;
        for (Map.Entry<String, Duration> e : result.stageTimes().entrySet()) {
            long peak = result.stagePeakBytes().getOrDefault(e.getKey(), 0L);
            sb.append(String.format("%-10s %8.2f s %10.1f MiB%n", e.getKey(), e.getValue().toMillis() / 1000.0, peak / 1048576.0));
            total = total.plus(e.getValue());
        }
        sb.append(String.format("total      %8.2f s on %d rank(s)", total.toMillis() / 1000.0, ranks));
        return sb.toString();
    }

    private ModelProvider provider(PluginRegistry registry, Optional<Path> modelDir) {
        if (modelDir.isEmpty()) {
            return registry.model(DEMO_FAMILY);
        }
        List<PluginRegistry.Installed<ModelProvider>> matching = registry.models().stream()
                .filter(m -> m.service().recognizes(modelDir.get())).toList();
        if (matching.isEmpty()) {
            throw new DiffuseException("no installed model provider recognises " + modelDir.get() + " (installed: "
                    + registry.models().stream().map(PluginRegistry.Installed::name).toList()
                    + "); check the folder holds model_index.json");
        }
        return matching.get(0).service();
    }

    /** A one-line progress bar on stderr: stage, step, time per step and ETA. */
    static final class TerminalProgress implements ProgressListener {
        private final PrintWriter err;
        private long stageStart;

        TerminalProgress(PrintWriter err) {
            this.err = err;
        }

        @Override
        public void stageStarted(String stage) {
            stageStart = System.nanoTime();
            err.print(stage + " ...");
            err.flush();
        }

        @Override
        public void step(String stage, int step, int total) {
            double perStep = (System.nanoTime() - stageStart) / 1e9 / step;
            int width = 30;
            int filled = (int) Math.round((double) width * step / total);
            err.printf("\r%s [%s%s] %d/%d  %.2f s/step  ETA %.1f s", stage, "#".repeat(filled), " ".repeat(width - filled),
                    step, total, perStep, perStep * (total - step));
            err.flush();
        }

        @Override
        public void stageFinished(String stage) {
            err.printf("\r%s done in %.2f s%s%n", stage, (System.nanoTime() - stageStart) / 1e9, " ".repeat(40));
            err.flush();
        }
    }
}
