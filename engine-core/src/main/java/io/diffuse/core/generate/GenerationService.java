package io.diffuse.core.generate;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.core.config.ConfigException;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.config.ModelDefaults;
import io.diffuse.core.config.ParallelDefaults;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.model.ModelResolver;
import io.diffuse.core.model.ModelResolver.ResolvedModel;
import io.diffuse.core.registry.PluginRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * The application layer of video generation, shared by {@code diffuse generate}, the server and the
 * Java API: {@link #plan} builds the effective configuration and checks everything that can be known
 * before a rank starts (installed plugins, degrees against the model's heads, geometry, tiling,
 * inputs, outputs), like diffusers' {@code check_inputs}; {@link #open} loads the model on a rank;
 * {@link Session#generate} runs one request and writes its outputs on rank 0.
 */
public final class GenerationService {
    private final PluginRegistry registry;
    private final CheckpointLoader checkpoints;
    private final ModelResolver models;

    public GenerationService(PluginRegistry registry, CheckpointLoader checkpoints) {
        this.registry = registry;
        this.checkpoints = checkpoints;
        this.models = new ModelResolver(registry);
    }

    /** The model resolver this service uses. */
    public ModelResolver models() {
        return models;
    }

    /**
     * Resolves the model, adds its built-in defaults under the user's settings and derives the
     * layout's unset degrees; {@link #checkedPlan} also checks the plan.
     *
     * @throws DiffuseException (one line) for anything wrong
     */
    public GenerationPlan plan(LayeredConfig layers) {
        GenerateSettings asGiven = GenerateSettings.from(layers.effective());
        // --model-family alone picks the family's own built-in model, not the configured default model.
        boolean familyOnly = asGiven.modelFamily().isPresent() && !layers.isSet(GenerateSettings.PREFIX + ".model");
        ResolvedModel model = models.resolve(familyOnly ? "" : asGiven.model(), asGiven.modelFamily());
        LayeredConfig withModel = ModelDefaults.add(layers, model.provider().defaultSettings(model.source()),
                "built-in default of " + model.source());
        withModel = ParallelDefaults.allRanksInOneGroup(withModel, ParallelDefaults.RING);
        EngineSettings settings = EngineSettings.from(withModel.effective());
        GenerateSettings generate = GenerateSettings.from(withModel.effective());
        return new GenerationPlan(withModel, settings, generate, model);
    }

    /**
     * {@link #plan} and every check that can be made before a rank starts.
     *
     * @throws DiffuseException (one line) for anything wrong
     */
    public GenerationPlan checkedPlan(LayeredConfig layers) {
        GenerationPlan plan = plan(layers);
        check(plan);
        return plan;
    }

    private void check(GenerationPlan plan) {
        EngineSettings settings = plan.settings();
        GenerateSettings g = plan.generate();
        checkStrategy(registry, settings, plan.model(), checkpoints);
        registry.vaeExecutor(settings.vae().executor());
        // The step cache policy is installed and its settings are valid (diffuse.cache.*).
        Map<String, Object> cache = settings.subtree("diffuse.cache");
        registry.cachePolicy(String.valueOf(cache.getOrDefault("policy", StepCachePolicy.NONE))).validate(cache);
        if (settings.parallel().cfg() == 2 && Math.abs(g.guidanceScale() - 1.0) < 1e-9) {
            throw new ConfigException("diffuse.parallel.cfg", 2, "splits the conditional and unconditional passes, but guidance"
                    + " scale 1 runs only one; use --cfg-parallel 1 or a guidance scale other than 1");
        }
        requireFile("--image", g.image());
        requireFile("--prompt-embeds", g.promptEmbeds());
        checkOutputs(g.outputs());
        checkContainer(g.outputs());
        // A tile size given explicitly is checked even with tiling off: it is meant to be used.
        TilingSettings tiling = settings.vae().tilingSettings();
        if (plan.layers().isAnySet(List.of("diffuse.vae.tile-size", "diffuse.vae.tile-overlap"))) {
            tiling = new TilingSettings(true, tiling.tileSampleSize(), tiling.overlap());
        }
        plan.model().provider().checkRequest(plan.model().source(), g.request(Map.of()), tiling);
    }

    /**
     * The model provider's estimate of the memory the plan's request needs on the rank that needs the
     * most, above the loaded model ({@link ModelProvider#estimateMemory}); empty when it cannot tell.
     */
    public java.util.OptionalLong estimateMemory(GenerationPlan plan) {
        EngineSettings s = plan.settings();
        return plan.model().provider().estimateMemory(plan.model().source(), plan.generate().request(Map.of()),
                new io.diffuse.api.model.MemoryPlan(s.dtype(), s.parallel().plan(), s.vae().tilingSettings(),
                        s.attention().backend(), checkpoints));
    }

    /**
     * Refuses, before any rank starts, a request that cannot fit this host: on the CPU, the estimate
     * ({@link #estimateMemory}) for every rank this host runs against the host's available memory (the
     * weights are not loaded yet, so a request that passes may still not fit; one that fails cannot).
     * A GPU's free memory is known only on its rank: nothing is checked there.
     *
     * @param localRanks the ranks this process starts on this host
     */
    public void checkHostMemory(GenerationPlan plan, int localRanks) {
        if (!plan.settings().device().equals("cpu")) {
            return;
        }
        java.util.OptionalLong estimate = estimateMemory(plan);
        java.util.OptionalLong available = io.diffuse.core.distributed.ProcessMemory.hostAvailableBytes();
        if (estimate.isEmpty() || available.isEmpty() || estimate.getAsLong() * localRanks <= available.getAsLong()) {
            return;
        }
        GenerateSettings g = plan.generate();
        String size = g.width().isPresent() && g.height().isPresent() ? g.width().get() + "x" + g.height().get()
                : "the default size";
        throw new DiffuseException(String.format(java.util.Locale.ROOT, "%s with %d frames needs about %.2f GiB per rank (the"
                + " model's estimate for %s, %s) and this host has %.2f GiB available for %d rank(s): use a smaller --width/--height"
                + " or fewer --num-frames%s", size, g.numFrames(), estimate.getAsLong() / (double) (1L << 30),
                plan.settings().dtype().label(), plan.settings().parallel().plan(), available.getAsLong() / (double) (1L << 30),
                localRanks, plan.settings().vae().tilingSettings().enabled() ? "" : ", or turn on --tiling"));
    }

    /**
     * The configured strategy is installed and can split the model's attention heads under the plan
     * (e.g. the Ulysses degree divides the head count).
     */
    public static void checkStrategy(PluginRegistry registry, EngineSettings settings, ResolvedModel model,
            CheckpointLoader checkpoints) {
        String name = settings.parallel().strategy();
        ParallelStrategy strategy = registry.strategy(name);
        OptionalInt heads = model.provider().attentionHeads(model.source(), checkpoints);
        if (heads.isEmpty()) {
            return;
        }
        ParallelPlan p = settings.parallel().plan();
        try {
            strategy.validate(p, heads.getAsInt());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("diffuse.parallel", "strategy " + name + ", ulysses " + p.ulysses() + " x ring " + p.ring()
                    + " x cfg " + p.cfg(), "cannot run the " + heads.getAsInt() + "-head model " + model.source() + ": "
                    + e.getMessage());
        }
    }

    private static void requireFile(String what, Optional<Path> path) {
        if (path.isPresent() && !Files.isRegularFile(path.get())) {
            throw new DiffuseException(what + " " + path.get() + " does not exist or is not a file");
        }
        if (path.isPresent() && !Files.isReadable(path.get())) {
            throw new DiffuseException(what + " " + path.get() + ": permission denied (the file is not readable)");
        }
    }

    /** The video file's name names a container FFmpeg has and that holds the encoder's codec (x.avi: AVI). */
    private static void checkContainer(GenerateSettings.Outputs o) {
        if (o.mp4().isEmpty()) {
            return;
        }
        try {
            // Pure Java: the launcher loads no natives (rank 0's writer checks the muxer against FFmpeg's).
            io.diffuse.core.video.VideoContainers.muxerFor(o.mp4().get());
        } catch (DiffuseException e) {
            throw new DiffuseException("--output " + e.getMessage(), e);
        }
    }

    /** At least one output; each in an existing, writable folder; no two the same path. */
    static void checkOutputs(GenerateSettings.Outputs o) {
        if (!o.any()) {
            throw new DiffuseException("nothing to write: give --output FILE.mp4, --png-frames DIR and/or --output-tensors"
                    + " FILE.safetensors");
        }
        List<Path> seen = new ArrayList<>();
        record Out(String flag, Optional<Path> path, boolean directory) {
        }
        for (Out out : List.of(new Out("--output", o.mp4(), false), new Out("--png-frames", o.pngFrames(), true),
                new Out("--output-tensors", o.tensors(), false))) {
            if (out.path().isEmpty()) {
                continue;
            }
            Path p = out.path().get().toAbsolutePath().normalize();
            if (seen.contains(p)) {
                throw new DiffuseException(out.flag() + " " + out.path().get() + " is also given for another output; give each"
                        + " output its own path");
            }
            seen.add(p);
            if (!out.directory() && Files.isDirectory(p)) {
                throw new DiffuseException(out.flag() + " " + out.path().get() + " is a directory; give a file path");
            }
            if (out.directory() && Files.exists(p) && !Files.isDirectory(p)) {
                throw new DiffuseException(out.flag() + " " + out.path().get() + " is a file; give a directory path");
            }
            Path parent = p.getParent();
            if (parent == null || !Files.isDirectory(parent)) {
                throw new DiffuseException(out.flag() + " " + out.path().get() + ": directory " + parent + " does not exist");
            }
            if (!canCreateFileIn(parent)) {
                throw new DiffuseException(out.flag() + " " + out.path().get() + ": directory " + parent
                        + " is not writable (permission denied or a read-only file system)");
            }
        }
    }

    /** Whether a file can be created in {@code dir}: tried, as permissions alone do not tell (root, read-only mounts). */
    private static boolean canCreateFileIn(Path dir) {
        try {
            Path probe = Files.createTempFile(dir, ".diffuse-write-check-", ".tmp");
            Files.delete(probe);
            return true;
        } catch (java.io.IOException | SecurityException e) {
            return false;
        }
    }

    /** Loads the plan's model on this rank, once; the session runs requests with their own plans. */
    public Session open(RankRuntime runtime, GenerationPlan plan) {
        ModelProvider provider = plan.model().provider();
        Pipeline pipeline = provider.load(plan.model().source(), runtime.modelContext(checkpoints));
        return new Session(runtime, runtime.context(checkpoints, plan.settings()), pipeline);
    }

    /** A model loaded on this rank, ready to run requests (every rank runs the same ones, in order). */
    public final class Session implements AutoCloseable {
        private final RankRuntime runtime;
        private final io.diffuse.api.runtime.RuntimeContext context;
        private final Pipeline pipeline;

        Session(RankRuntime runtime, io.diffuse.api.runtime.RuntimeContext context, Pipeline pipeline) {
            this.runtime = runtime;
            this.context = context;
            this.pipeline = pipeline;
        }

        /**
         * Runs {@code request} with the plan the session was opened with; rank 0 writes its outputs
         * (all or nothing) and reports each written file to {@code written}.
         */
        public GenerationResult generate(GenerateSettings request, ProgressListener listener, Consumer<String> written) {
            return run(request, context, listener, written);
        }

        /**
         * Runs a request with its own plan (strategy, degrees, VAE executor, tiling) on the loaded model,
         * in the same world: a server's per-request plans reuse the cached groups of each layout.
         */
        public GenerationResult generate(GenerationPlan request, ProgressListener listener, Consumer<String> written) {
            return run(request.generate(), runtime.context(checkpoints, request.settings()), listener, written);
        }

        /**
         * As {@link #generate(GenerateSettings, ProgressListener, Consumer)} in {@code requestContext}
         * (a request's own plan, strategy and VAE executor within the loaded world: the server).
         */
        public GenerationResult generate(GenerateSettings request, io.diffuse.api.runtime.RuntimeContext requestContext,
                ProgressListener listener, Consumer<String> written) {
            return run(request, requestContext, listener, written, size -> { });
        }

        /**
         * As {@link #generate(GenerateSettings, io.diffuse.api.runtime.RuntimeContext, ProgressListener, Consumer)},
         * and {@code decoded} receives the size of the decoded video where this rank holds it (what rank 0 wrote).
         */
        public GenerationResult generate(GenerateSettings request, io.diffuse.api.runtime.RuntimeContext requestContext,
                ProgressListener listener, Consumer<String> written, Consumer<VideoSize> decoded) {
            return run(request, requestContext, listener, written, decoded);
        }

        /** As {@link #generate(GenerationPlan, ProgressListener, Consumer)}, with the decoded video's size as above. */
        public GenerationResult generate(GenerationPlan request, ProgressListener listener, Consumer<String> written,
                Consumer<VideoSize> decoded) {
            return run(request.generate(), runtime.context(checkpoints, request.settings()), listener, written, decoded);
        }

        /**
         * As {@link #generate(GenerationPlan, ProgressListener, Consumer, Consumer)}, and the result's tensors outlive
         * the run: they belong to the caller's {@link PointerScope} if one is open, else to the caller (close, or the GC).
         */
        public GenerationResult generateKept(GenerationPlan request, ProgressListener listener, Consumer<String> written,
                Consumer<VideoSize> decoded) {
            return run(request.generate(), runtime.context(checkpoints, request.settings()), listener, written, decoded, true);
        }

        private GenerationResult run(GenerateSettings request, io.diffuse.api.runtime.RuntimeContext context,
                ProgressListener listener, Consumer<String> written) {
            return run(request, context, listener, written, size -> { });
        }

        private GenerationResult run(GenerateSettings request, io.diffuse.api.runtime.RuntimeContext context,
                ProgressListener listener, Consumer<String> written, Consumer<VideoSize> decoded) {
            return run(request, context, listener, written, decoded, false);
        }

        private GenerationResult run(GenerateSettings request, io.diffuse.api.runtime.RuntimeContext context,
                ProgressListener listener, Consumer<String> written, Consumer<VideoSize> decoded, boolean keepResult) {
            PointerScope callers = PointerScope.getInnerScope();
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> embeds = request.promptEmbeds().map(checkpoints::readTensors).orElse(Map.of());
                StageClock clock = new StageClock(context.device(), listener);
                GenerationResult produced = pipeline.generate(request.request(embeds), context, clock);
                GenerationResult result = new GenerationResult(produced.latents(), produced.video(), clock.times(), clock.peaks());
                if (runtime.rank() == 0) {
                    OutputWriter.write(result, request, checkpoints, written);
                }
                if (result.video() != null) {
                    decoded.accept(VideoSize.of(result.video()));
                }
                if (keepResult) {
                    keep(result.latents(), callers);
                    keep(result.video(), callers);
                }
                return result;
            }
        }

        /** Takes a reference for the caller's scope (or the caller) so that closing the run's scope leaves it alive. */
        private static void keep(Tensor t, PointerScope callers) {
            if (t == null) {
                return;
            }
            if (callers != null) {
                callers.attach(t);
            } else {
                t.retainReference();
            }
        }

        @Override
        public void close() {
            pipeline.close();
        }
    }
}
