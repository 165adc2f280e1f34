package io.diffuse.cache;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.diffuse.api.cache.CacheDecision;
import io.diffuse.api.cache.StepCache;
import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import io.diffuse.hunyuan15.pipeline.HunyuanVideo15Pipeline;
import io.diffuse.testkit.SingleRankContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The step-cache fixtures of tools/reference/gen_cache.py (plugin-hunyuan15's tiny pipeline, T2V,
 * guidance 6, seed 42, 8 steps) and a way to run the real HunyuanVideo 1.5 pipeline with a policy
 * found through the engine's registry, on one rank or as one of several thread ranks.
 */
final class CacheRuns {
    static final Path FIXTURES = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures", "pipeline");
    static final Config CASES = ConfigFactory.parseFile(FIXTURES.resolve("t2v_cache.json").toFile());
    static final int STEPS = CASES.getInt("steps");

    /** What one rank's generation gave: its final latents and its cache's decisions. */
    record Outcome(Tensor latents, List<CacheDecision> decisions) {
    }

    private CacheRuns() {
    }

    /** The fixture tensors (embeddings, latents_none, latents_<run>). */
    static Map<String, Tensor> tensors(CheckpointLoader loader) {
        return loader.readTensors(FIXTURES.resolve("t2v_cache.safetensors"));
    }

    /** The diffuse.cache settings that reproduce fixture run {@code name} (fbc_0.3, fbc_0.45, mag). */
    static Map<String, Object> settings(String name) {
        Config run = CASES.getConfig("runs.\"" + name + "\"");
        Map<String, Object> s = new HashMap<>();
        s.put("policy", run.getString("policy"));
        s.put("threshold", run.getDouble("threshold"));
        if (run.hasPath("mag_ratios")) {
            s.put("mag-cache.mag-ratios", run.getDoubleList("mag_ratios"));
            s.put("mag-cache.max-skip-steps", run.getInt("max_skip_steps"));
            s.put("mag-cache.retention-ratio", run.getDouble("retention_ratio"));
            s.put("mag-cache.calibrate", false);
        }
        return s;
    }

    /** diffusers' decisions of fixture run {@code name}. */
    static List<CacheDecision> expectedDecisions(String name) {
        List<CacheDecision> out = new ArrayList<>();
        for (Config d : CASES.getConfigList("runs.\"" + name + "\".decisions")) {
            double diff = d.hasPath("diff") && !d.getIsNull("diff") ? d.getDouble("diff") : Double.NaN;
            out.add(new CacheDecision(d.getInt("step"), d.getString("branch"), d.getBoolean("compute"), diff));
        }
        return out;
    }

    /** The T2V request of the fixture, at {@code height} x {@code width} with {@code frames} frames. */
    static GenerationRequest request(Map<String, Tensor> c, int height, int width, int frames) {
        Map<String, Tensor> embeds = new HashMap<>(c);
        embeds.keySet().removeIf(k -> k.startsWith("latents"));
        return GenerationRequest.builder().size(height, width).numFrames(frames).numInferenceSteps(STEPS)
                .guidanceScale(CASES.getDouble("guidance")).seed(CASES.getLong("seed")).promptEmbeds(embeds).build();
    }

    /** Runs the tiny pipeline with the cache settings {@code cache} ("policy" names an installed policy). */
    static Outcome generate(GenerationRequest request, Map<String, Object> cache, ProcessGroups groups,
            ParallelStrategy strategy) {
        SingleRankContext base = new SingleRankContext(DType.FP32, groups, strategy, new LocalVaeExecutor(),
                TilingSettings.defaults(false), true);
        StepCachePolicy policy = new ServiceLoaderRegistry().cachePolicy(String.valueOf(cache.get("policy")));
        Recording recording = new Recording(policy);
        RuntimeContext ctx = new CacheContext(base, recording, cache);
        try (PointerScope scope = new PointerScope();
                HunyuanVideo15Pipeline pipeline = HunyuanVideo15Pipeline.load(FIXTURES.resolve("tiny"), ctx)) {
            GenerationResult r = pipeline.generate(request, ctx, ProgressListener.NONE);
            Tensor latents = r.latents().to(ScalarType.Float).clone();
            latents.retainReference();
            return new Outcome(latents, recording.caches.isEmpty() ? List.of() : recording.caches.get(0).decisions());
        }
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Float).sub(b.to(ScalarType.Float)).abs().max().item().toDouble();
    }

    /** The policy under test, keeping the caches it creates so a test can read their decisions. */
    static final class Recording implements StepCachePolicy {
        private final StepCachePolicy policy;
        final List<StepCache> caches = Collections.synchronizedList(new ArrayList<>());

        Recording(StepCachePolicy policy) {
            this.policy = policy;
        }

        @Override
        public String name() {
            return policy.name();
        }

        @Override
        public String description() {
            return policy.description();
        }

        @Override
        public StepCache create(CacheRun run) {
            StepCache cache = policy.create(run);
            caches.add(cache);
            return cache;
        }
    }

    /** A test context with a step-cache policy and its diffuse.cache settings, as RankRuntime builds one. */
    private record CacheContext(RuntimeContext base, StepCachePolicy policy, Map<String, Object> cache) implements RuntimeContext {
        @Override
        public Device device() {
            return base.device();
        }

        @Override
        public DType dtype() {
            return base.dtype();
        }

        @Override
        public CheckpointLoader checkpoints() {
            return base.checkpoints();
        }

        @Override
        public ProcessGroups groups() {
            return base.groups();
        }

        @Override
        public ParallelStrategy strategy() {
            return base.strategy();
        }

        @Override
        public VaeExecutor vaeExecutor() {
            return base.vaeExecutor();
        }

        @Override
        public TilingSettings tiling() {
            return base.tiling();
        }

        @Override
        public boolean vaeResultOnAllRanks() {
            return base.vaeResultOnAllRanks();
        }

        @Override
        public Map<String, Object> configuration(String path) {
            return path.equals(HunyuanVideo15Pipeline.CACHE_CONFIGURATION) ? cache : base.configuration(path);
        }

        @Override
        public StepCachePolicy cachePolicy() {
            return policy;
        }
    }
}
