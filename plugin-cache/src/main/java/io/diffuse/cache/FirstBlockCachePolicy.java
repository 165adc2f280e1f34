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
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "first-block": diffusers' {@code FirstBlockCacheConfig(threshold)} hook. Every forward runs the
 * first block; when {@code mean|r - r_prev| / mean|r_prev|} of its hidden-state residual {@code r}
 * (against the residual of the last forward that ran every block) is at most the threshold, the
 * remaining blocks are skipped and their last residuals (hidden and encoder streams) are added to the
 * first block's output instead. State is per guidance branch. Under sequence parallelism both sums
 * are reduced over the sequence group (padding excluded) before the ratio, so every rank of the group
 * decides alike.
 */
@Component(service = StepCachePolicy.class, property = StepCachePolicy.NAME_PROPERTY + "=" + FirstBlockCachePolicy.NAME)
public final class FirstBlockCachePolicy implements StepCachePolicy {
    static final String NAME = "first-block";
    /** diffusers' FirstBlockCacheConfig default. */
    static final double DEFAULT_THRESHOLD = 0.05;
    private static final Logger LOG = LoggerFactory.getLogger(FirstBlockCachePolicy.class);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "first-block cache (diffusers FirstBlockCacheConfig): skip the other blocks while the first block's residual "
                + "changes by at most diffuse.cache.threshold (default " + DEFAULT_THRESHOLD + ")";
    }

    @Override
    public void validate(Map<String, Object> settings) {
        threshold(new CacheRun(settings, 1, 0));
    }

    private static double threshold(CacheRun run) {
        double t = run.number("threshold", DEFAULT_THRESHOLD);
        if (!(t >= 0) || Double.isInfinite(t)) {
            throw new DiffuseException("invalid configuration diffuse.cache.threshold = " + t
                    + ": the first-block cache needs a finite threshold >= 0 (e.g. 0.05; higher skips more)");
        }
        return t;
    }

    @Override
    public StepCache create(CacheRun run) {
        return new Cache(threshold(run), run.rank());
    }

    /** diffusers' FBCSharedBlockState of one cache context. */
    private static final class BranchState {
        final HeldTensors headResidual = new HeldTensors();
        final HeldTensors tailHidden = new HeldTensors();
        final HeldTensors tailEncoder = new HeldTensors();

        void clear() {
            headResidual.clear();
            tailHidden.clear();
            tailEncoder.clear();
        }
    }

    private static final class Cache implements StepCache {
        private final double threshold;
        private final int rank;
        private final Map<String, BranchState> branches = new HashMap<>();
        private final List<CacheDecision> decisions = new ArrayList<>();

        Cache(double threshold, int rank) {
            this.threshold = threshold;
            this.rank = rank;
        }

        @Override
        public BlockStates forward(CacheStep step, BlockStates input, BlockStack blocks) {
            if (blocks.size() < 2) {
                throw new DiffuseException("the first-block cache needs a transformer with at least 2 blocks (a head block "
                        + "and the blocks it may skip); this one has " + blocks.size() + "; set diffuse.cache.policy = none");
            }
            BranchState state = branches.computeIfAbsent(step.branch(), b -> new BranchState());
            BlockStates head = blocks.run(0, 1, input);
            List<Tensor> residual = Streams.sub(head.hidden(), input.hidden());
            double diff = Double.NaN;
            boolean compute = true;
            if (!state.headResidual.isEmpty()) {
                List<Tensor> previous = state.headResidual.get();
                double[] local = new double[2];
                for (int i = 0; i < residual.size(); i++) {
                    local[0] += absSum(blocks.validTokens(residual.get(i).sub(previous.get(i))));
                    local[1] += absSum(blocks.validTokens(previous.get(i)));
                }
                // Same element count on both sides: the ratio of sums is diffusers' ratio of means.
                double[] total = blocks.sumOverSequence(local);
                diff = total[0] / total[1];
                compute = diff > threshold;
            }
            decisions.add(new CacheDecision(step.step(), step.branch(), compute, diff));
            LOG.info("step cache {} rank {} step {} {}: {} (first-block residual change {} vs threshold {})", NAME, rank,
                    step.step(), step.branch(), compute ? "compute" : "reuse", diff, threshold);
            if (!compute) {
                return new BlockStates(Streams.add(state.tailHidden.get(), head.hidden()),
                        Streams.add(state.tailEncoder.get(), head.encoder()));
            }
            state.headResidual.set(residual);
            BlockStates out = blocks.run(1, blocks.size(), head);
            state.tailHidden.set(Streams.sub(out.hidden(), head.hidden()));
            state.tailEncoder.set(Streams.sub(out.encoder(), head.encoder()));
            return out;
        }

        private static double absSum(Tensor t) {
            return t.abs().to(ScalarType.Double).sum().item().toDouble();
        }

        @Override
        public List<CacheDecision> decisions() {
            return List.copyOf(decisions);
        }

        @Override
        public void close() {
            branches.values().forEach(BranchState::clear);
            branches.clear();
        }
    }
}
