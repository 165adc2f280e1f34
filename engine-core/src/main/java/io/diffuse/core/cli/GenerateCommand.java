package io.diffuse.core.cli;

import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.distributed.GroupTraffic;
import io.diffuse.core.generate.GenerationPlan;
import io.diffuse.core.generate.GenerationService;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code diffuse generate}: flags mapped onto {@code diffuse.generate.*} and handed to the
 * {@link GenerationService}, which checks the plan before any rank starts, runs it on every rank and
 * writes the outputs on rank 0. This command adds only the terminal: the progress bar on stderr and
 * the per-stage summary.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate a video (text-to-video, or image-to-video with --image).",
            "Every flag has a configuration key diffuse.generate.<flag name>; parallel flags as in run-component.",
            "Without --model: the built-in tiny demo model (noise) on 2 local ranks, Ulysses 2 (USP), VAE patch parallel;"
                    + " any parallel flag replaces that plan, and --nproc N alone puts all ranks into one ring."})
public final class GenerateCommand extends RankedCommand {
    @Option(names = "--model", paramLabel = "DIR|builtin:NAME",
            description = "diffusers pipeline root, or builtin:NAME (default builtin:demo, the tiny random-weight demo).")
    String model;
    @Option(names = "--model-family", paramLabel = "NAME",
            description = "Model family (see `diffuse info`); alone, runs the family's built-in model.")
    String modelFamily;
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
    @Option(names = {"--num-inference-steps", "--steps"}, paramLabel = "N", description = "Denoising steps (default 50).")
    Integer numInferenceSteps;
    @Option(names = "--guidance-scale", paramLabel = "S", description = "Classifier-free guidance scale; 1 = one pass (default 6.0).")
    Double guidanceScale;
    @Option(names = "--flow-shift", paramLabel = "S", description = "Flow shift > 0 (default: the model's scheduler config).")
    Double flowShift;
    @Option(names = "--seed", paramLabel = "N", description = "Seed of the initial noise (as torch.Generator('cpu').manual_seed).")
    Long seed;
    @Option(names = "--fps", paramLabel = "N", description = "Frames per second of the MP4 (default 24).")
    Integer fps;
    @Option(names = "--output", paramLabel = "FILE", description = "Video file to write: MP4, or the container its extension names (.mkv, .mov, .avi).")
    Path output;
    @Option(names = "--output-tensors", paramLabel = "FILE", description = "safetensors file with latents (B,C,T,H,W) and video (B,C,F,H,W) in [0,1].")
    Path outputTensors;
    @Option(names = "--png-frames", paramLabel = "DIR", description = "Directory to write the frames to as PNG files (frame-00000.png, ...).")
    Path pngFrames;
    @Option(names = "--prompt-embeds", paramLabel = "FILE", description = "safetensors with precomputed embeddings (diffusers argument names).")
    Path promptEmbeds;
    @Option(names = "--cache", paramLabel = "POLICY",
            description = "Step cache policy: none (default), first-block, mag-cache, or an installed one (diffuse.cache.policy).")
    String cache;
    @Option(names = "--cache-threshold", paramLabel = "T",
            description = "The policy's skip threshold (diffuse.cache.threshold; default: the policy's diffusers default).")
    Double cacheThreshold;

    private GenerationService service;
    private GenerationPlan plan;
    /** Whether any layer gives a prompt or embeddings (an empty prompt is then meant, not forgotten). */
    private boolean promptGiven;

    public GenerateCommand(CliEnvironment env) {
        super(env);
        options.extraFlags = this::generateFlags;
    }

    private void generateFlags(Map<String, Object> f) {
        put(f, "model", model);
        put(f, "model-family", modelFamily);
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
        if (cache != null) {
            f.put("diffuse.cache.policy", cache);
        }
        if (cacheThreshold != null) {
            f.put("diffuse.cache.threshold", cacheThreshold);
        }
    }

    private static void put(Map<String, Object> f, String key, Object value) {
        if (value != null) {
            f.put("diffuse.generate." + key, value instanceof Path p ? p.toString() : value);
        }
    }

    @Override
    protected EngineSettings prepare(LayeredConfig layers) {
        service = new GenerationService(env.registry(), new DiffusersCheckpointLoader());
        plan = service.checkedPlan(layers);
        if (environment().get(io.diffuse.core.distributed.RankEnvironment.RANK) == null) {
            // The launcher (or a single-rank run): every rank of this run is on this host.
            service.checkHostMemory(plan, plan.settings().parallel().nproc());
        }
        promptGiven = layers.isSet("diffuse.generate.prompt") || layers.isSet("diffuse.generate.prompt-embeds");
        return plan.settings();
    }

    @Override
    protected int runOnRank(RankRuntime runtime) {
        boolean rank0 = runtime.rank() == 0;
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        if (rank0 && plan.model().source().builtin() != null) {
            out.println("Built-in model " + plan.model().source() + " (" + plan.model().family() + "): "
                    + "tiny random weights, so the video is noise. Give --model DIR for a real checkpoint.");
            out.flush();
        }
        if (rank0 && !promptGiven) {
            out.println("No --prompt given: generating from an empty prompt. Give --prompt TEXT (--prompt \"\" to mean an"
                    + " empty one) or --prompt-embeds FILE.");
            out.flush();
        }
        TerminalProgress progress = new TerminalProgress(err);
        GroupTraffic before = GroupTraffic.of(runtime.groups());
        try (GenerationService.Session session = service.open(runtime, plan)) {
            GenerationResult result = session.generate(plan.generate(), rank0 ? progress : ProgressListener.NONE, line -> {
                out.println(line);
                out.flush();
            });
            if (rank0) {
                out.println(RunReport.plan(plan.settings(), GroupTraffic.of(runtime.groups()).minus(before)));
                out.println(summary(result, runtime.worldSize()));
                out.flush();
            }
            return 0;
        } finally {
            progress.endLine();
        }
    }

    /** Time and peak resident memory per stage. */
    static String summary(GenerationResult result, int ranks) {
        StringBuilder sb = new StringBuilder("stage      time       peak memory (rank 0; host RSS on cpu, allocated GPU memory on cuda)\n");
        Duration total = Duration.ZERO;
        for (Map.Entry<String, Duration> e : result.stageTimes().entrySet()) {
            long peak = result.stagePeakBytes().getOrDefault(e.getKey(), 0L);
            sb.append(String.format("%-10s %8.2f s %10.1f MiB%n", e.getKey(), e.getValue().toMillis() / 1000.0, peak / 1048576.0));
            total = total.plus(e.getValue());
        }
        sb.append(String.format("total      %8.2f s on %d rank(s)", total.toMillis() / 1000.0, ranks));
        return sb.toString();
    }

    /** A one-line progress bar on stderr: stage, step, time per step and ETA. */
    static final class TerminalProgress implements ProgressListener {
        private final PrintWriter err;
        private long stageStart;
        /** Whether the cursor is on an unfinished progress line (an error must not be glued to it). */
        private boolean lineOpen;

        TerminalProgress(PrintWriter err) {
            this.err = err;
        }

        @Override
        public void stageStarted(String stage) {
            stageStart = System.nanoTime();
            err.print(stage + " ...");
            err.flush();
            lineOpen = true;
        }

        @Override
        public void step(String stage, int step, int total) {
            double perStep = (System.nanoTime() - stageStart) / 1e9 / step;
            int width = 30;
            int filled = (int) Math.round((double) width * step / total);
            err.printf("\r%s [%s%s] %d/%d  %.2f s/step  ETA %.1f s", stage, "#".repeat(filled), " ".repeat(width - filled),
                    step, total, perStep, perStep * (total - step));
            err.flush();
            lineOpen = true;
        }

        @Override
        public void stageFinished(String stage) {
            err.printf("\r%s done in %.2f s%s%n", stage, (System.nanoTime() - stageStart) / 1e9, " ".repeat(40));
            err.flush();
            lineOpen = false;
        }

        /** Ends an unfinished progress line, so what follows (an error) starts on its own line. */
        void endLine() {
            if (lineOpen) {
                err.println();
                err.flush();
                lineOpen = false;
            }
        }
    }
}
