package io.diffuse.cache;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.cache.BlockStack;
import io.diffuse.api.cache.BlockStates;
import io.diffuse.api.cache.CacheDecision;
import io.diffuse.api.cache.CacheStep;
import io.diffuse.api.cache.StepCache;
import io.diffuse.api.cache.StepCachePolicy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "mag-cache": diffusers' {@code MagCacheConfig} hook. After the first {@code retention-ratio} of the
 * steps, the per-step magnitude ratios of the model are multiplied up and their error
 * {@code |1 - product|} accumulated; while that error stays within the threshold (and at most
 * {@code max-skip-steps} in a row) the whole block stack is skipped and the last computed residual
 * (stack output minus input, video tokens) is added to the input. Decisions depend only on the step
 * and the configured ratios, so every rank decides alike; state is per guidance branch. Arithmetic is
 * float32, as diffusers does it on its ratio tensor. With {@code calibrate = true} nothing is skipped
 * and the ratios of this model (mean over video tokens of |r_t| / |r_t-1|, reduced over the sequence
 * group) are logged and recorded as the decisions' statistic.
 */
@Component(service = StepCachePolicy.class, property = StepCachePolicy.NAME_PROPERTY + "=" + MagCachePolicy.NAME)
public final class MagCachePolicy implements StepCachePolicy {
    static final String NAME = "mag-cache";
    /** diffusers' MagCacheConfig defaults. */
    static final double DEFAULT_THRESHOLD = 0.06;
    private static final Logger LOG = LoggerFactory.getLogger(MagCachePolicy.class);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "MagCache (diffusers MagCacheConfig): skip every block while the accumulated magnitude-ratio error stays "
                + "within diffuse.cache.threshold (default " + DEFAULT_THRESHOLD + "); needs diffuse.cache.mag-cache.mag-ratios";
    }

    /** The settings, checked. */
    record Settings(float threshold, int maxSkipSteps, double retentionRatio, float[] ratios, boolean calibrate) {
    }

    static Settings settings(CacheRun run) {
        double threshold = run.number("threshold", DEFAULT_THRESHOLD);
        if (!(threshold >= 0) || Double.isInfinite(threshold)) {
            throw new DiffuseException("invalid configuration diffuse.cache.threshold = " + threshold
                    + ": MagCache needs a finite threshold >= 0 (e.g. 0.06; higher skips more)");
        }
        double maxSkip = run.number("mag-cache.max-skip-steps", 3);
        if (maxSkip < 0 || maxSkip != Math.rint(maxSkip)) {
            throw new DiffuseException("invalid configuration diffuse.cache.mag-cache.max-skip-steps = " + maxSkip
                    + ": expected a whole number >= 0");
        }
        double retention = run.number("mag-cache.retention-ratio", 0.2);
        if (!(retention >= 0 && retention <= 1)) {
            throw new DiffuseException("invalid configuration diffuse.cache.mag-cache.retention-ratio = " + retention
                    + ": expected a fraction in [0, 1]");
        }
        boolean calibrate = run.flag("mag-cache.calibrate", false);
        List<Double> given = run.numbers("mag-cache.mag-ratios");
        if (given.isEmpty() && !calibrate) {
            throw new DiffuseException("diffuse.cache.mag-cache.mag-ratios is empty: MagCache needs this model's magnitude "
                    + "ratios; run once with diffuse.cache.mag-cache.calibrate = true and set the ratios it logs");
        }
        float[] ratios = new float[given.size()];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = given.get(i).floatValue(); // torch.tensor(list): float32
        }
        return new Settings((float) threshold, (int) maxSkip, retention, ratios, calibrate);
    }

    /**
     * diffusers' {@code nearest_interp}: {@code src[round(arange(n, float32) * ((len - 1) / (n - 1)))]},
     * rounding half to even as torch.round does.
     */
    static float[] nearestInterp(float[] src, int target) {
        if (src.length == target || src.length == 0) {
            return src;
        }
        if (target == 1) {
            return new float[] {src[src.length - 1]};
        }
        float scale = (float) ((src.length - 1) / (double) (target - 1));
        float[] out = new float[target];
        for (int i = 0; i < target; i++) {
            out[i] = src[(int) Math.rint((float) i * scale)];
        }
        return out;
    }

    @Override
    public void validate(Map<String, Object> settings) {
        settings(new CacheRun(settings, 1, 0));
    }

    @Override
    public StepCache create(CacheRun run) {
        Settings s = settings(run);
        return new Cache(s, nearestInterp(s.ratios(), run.numInferenceSteps()), run.numInferenceSteps(), run.rank());
    }

    /** diffusers' MagCacheState of one cache context. */
    private static final class BranchState {
        final HeldTensors previousResidual = new HeldTensors();
        float accumulatedRatio = 1f;
        float accumulatedErr = 0f;
        int accumulatedSteps = 0;
        int stepIndex = 0;
        final List<Double> calibration = new ArrayList<>();

        void reset() {
            stepIndex = 0;
            accumulatedRatio = 1f;
            accumulatedSteps = 0;
            accumulatedErr = 0f;
            previousResidual.clear();
            calibration.clear();
        }
    }

    private static final class Cache implements StepCache {
        private final Settings settings;
        private final float[] ratios;
        private final int steps;
        private final int rank;
        private final Map<String, BranchState> branches = new HashMap<>();
        private final List<CacheDecision> decisions = new ArrayList<>();

        Cache(Settings settings, float[] ratios, int steps, int rank) {
            this.settings = settings;
            this.ratios = ratios;
            this.steps = steps;
            this.rank = rank;
        }

        @Override
        public BlockStates forward(CacheStep step, BlockStates input, BlockStack blocks) {
            BranchState s = branches.computeIfAbsent(step.branch(), b -> new BranchState());
            boolean compute = true;
            double accumulated = Double.NaN; // the error behind the decision, NaN while retained
            if (!settings.calibrate()) {
                int current = s.stepIndex;
                float scale = current >= ratios.length ? 1f : ratios[current];
                int retentionStep = (int) (settings.retentionRatio() * steps + 0.5);
                if (current >= retentionStep) {
                    s.accumulatedRatio *= scale;
                    s.accumulatedSteps += 1;
                    s.accumulatedErr += Math.abs(1f - s.accumulatedRatio);
                    accumulated = s.accumulatedErr;
                    if (!s.previousResidual.isEmpty() && s.accumulatedErr <= settings.threshold()
                            && s.accumulatedSteps <= settings.maxSkipSteps()) {
                        compute = false;
                    } else {
                        s.accumulatedRatio = 1f;
                        s.accumulatedSteps = 0;
                        s.accumulatedErr = 0f;
                    }
                }
            }
            if (!compute) {
                decide(step, false, accumulated);
                BlockStates out = new BlockStates(Streams.add(input.hidden(), s.previousResidual.get()), input.encoder());
                advance(s, step.branch());
                return out;
            }
            BlockStates out = blocks.run(0, blocks.size(), input);
            List<Tensor> residual = Streams.sub(out.hidden(), input.hidden());
            double statistic = settings.calibrate() ? calibrationRatio(s, residual, blocks) : accumulated;
            decide(step, true, statistic);
            s.previousResidual.set(residual);
            advance(s, step.branch());
            return out;
        }

        /** mean over tokens of ||r_t|| / (||r_t-1|| + 1e-8), 1.0 at the first step. */
        private static double calibrationRatio(BranchState s, List<Tensor> residual, BlockStack blocks) {
            double ratio = 1.0;
            if (!s.previousResidual.isEmpty()) {
                double[] local = new double[2];
                for (int i = 0; i < residual.size(); i++) {
                    // (1, n, D) -> (1, n) per-token norms in float32, as linalg.norm(x.float(), dim=-1)
                    Tensor current = tokenNorms(blocks.validTokens(residual.get(i)));
                    Tensor previous = tokenNorms(blocks.validTokens(s.previousResidual.get().get(i)));
                    Tensor r = current.div(previous.add(new Scalar(1e-8)));
                    local[0] += r.to(ScalarType.Double).sum().item().toDouble();
                    local[1] += r.numel();
                }
                double[] total = blocks.sumOverSequence(local);
                ratio = total[0] / total[1];
            }
            s.calibration.add(ratio);
            return ratio;
        }

        private static Tensor tokenNorms(Tensor t) {
            return t.to(ScalarType.Float).norm(new ScalarOptional(new Scalar(2.0)), new long[] {-1}, false);
        }

        private void decide(CacheStep step, boolean compute, double statistic) {
            decisions.add(new CacheDecision(step.step(), step.branch(), compute, statistic));
            LOG.info("step cache {} rank {} step {} {}: {} ({} {})", NAME, rank, step.step(), step.branch(),
                    compute ? "compute" : "reuse", settings.calibrate() ? "calibration ratio" : "accumulated error", statistic);
        }

        private void advance(BranchState s, String branch) {
            s.stepIndex += 1;
            if (s.stepIndex >= steps) {
                if (settings.calibrate()) {
                    LOG.info("step cache {} calibration of {} ({} steps), set diffuse.cache.mag-cache.mag-ratios = {}", NAME,
                            branch, steps, s.calibration);
                }
                s.reset();
            }
        }

        @Override
        public List<CacheDecision> decisions() {
            return List.copyOf(decisions);
        }

        @Override
        public void close() {
            branches.values().forEach(BranchState::reset);
            branches.clear();
        }
    }
}
