package io.diffuse.usp.cfg;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.dist.ProcessGroup;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * Classifier-free guidance split over a cfg group of two ranks: cfg rank 0 runs the conditional
 * forward, cfg rank 1 the unconditional one; {@link #combine} all-gathers both predictions and
 * returns {@code uncond + scale * (cond - uncond)}, the same bits on both ranks.
 */
public final class CfgParallel {
    /** Cfg rank that runs the conditional (prompted) forward. */
    public static final int CONDITIONAL_RANK = 0;
    /** Cfg rank that runs the unconditional (negative-prompt) forward. */
    public static final int UNCONDITIONAL_RANK = 1;

    private CfgParallel() {
    }

    /** Whether this rank runs the conditional forward in {@code cfg}. */
    public static boolean runsConditional(ProcessGroup cfg) {
        checkSize(cfg);
        return cfg.rank() == CONDITIONAL_RANK;
    }

    /**
     * Combines this rank's prediction with its partner's.
     *
     * @param cfg the cfg group (two ranks)
     * @param prediction this rank's model output: conditional on cfg rank 0, unconditional on cfg rank 1
     * @param scale guidance scale s
     * @return {@code uncond + s * (cond - uncond)}, shaped like {@code prediction}, identical on both ranks
     */
    public static Tensor combine(ProcessGroup cfg, Tensor prediction, double scale) {
        checkSize(cfg);
        Tensor both = cfg.allGather(prediction.unsqueeze(0).contiguous()); // (2, ...) in cfg-rank order
        Tensor cond = both.select(0, CONDITIONAL_RANK);
        Tensor uncond = both.select(0, UNCONDITIONAL_RANK);
        return uncond.add(cond.sub(uncond).mul(new Scalar(scale)));
    }

    private static void checkSize(ProcessGroup cfg) {
        if (cfg.size() != 2) {
            throw new DiffuseException("cfg parallel needs a cfg group of 2 ranks (conditional and unconditional), got "
                    + cfg.size() + " in group '" + cfg.name() + "'");
        }
    }
}
