package io.diffuse.api.dist;

import io.diffuse.api.DiffuseException;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import io.diffuse.api.parallel.ParallelPlan;

/**
 * The groups a {@link ParallelPlan} needs, built once per layout and cached by the runtime. Every
 * rank belongs to exactly one group of each kind. Layout (yunchang "ulysses low"): within the
 * sequence-parallel block of {@code ulysses*ring} ranks, ulysses groups are contiguous ranks and ring
 * groups are strided; cfg groups pair the sequence-parallel blocks; vae groups are the first
 * {@code plan.vae()} ranks (ranks beyond them are in a group of their own and take no tiles).
 */
public interface ProcessGroups {
    /** The plan these groups were built for. */
    ParallelPlan plan();

    /** All ranks. */
    ProcessGroup world();

    /** This rank's Ulysses group (size {@code plan.ulysses()}). */
    ProcessGroup ulysses();

    /** This rank's Ring group (size {@code plan.ring()}). */
    ProcessGroup ring();

    /** This rank's whole sequence-parallel group (size {@code ulysses*ring}), ordered ring-major. */
    ProcessGroup sequence();

    /** This rank's classifier-free-guidance group (size {@code plan.cfg()}). */
    ProcessGroup cfg();

    /** This rank's VAE group (size {@code plan.vae()} for members). */
    ProcessGroup vae();

    /** Whether this rank is one of the {@code plan.vae()} ranks that run VAE tiles. */
    boolean inVaeGroup();

    /**
     * Whether this rank runs the conditional (prompted) forward of classifier-free guidance. With a
     * cfg group of 2 ranks, cfg rank 0 runs the conditional forward and cfg rank 1 the unconditional
     * one; with a cfg group of 1 every rank runs both (true here).
     */
    default boolean runsConditional() {
        return cfg().size() == 1 || cfg().rank() == 0;
    }

    /**
     * Classifier-free guidance over the cfg group of 2 ranks: all-gathers this rank's prediction
     * (conditional on cfg rank 0, unconditional on cfg rank 1) with its partner's and returns
     * {@code uncond + scale * (cond - uncond)} (diffusers' ClassifierFreeGuidance without rescale),
     * the same bits on both ranks. Every member of the cfg group must call it.
     *
     * @throws DiffuseException when the cfg group does not have exactly 2 ranks
     */
    default Tensor combineGuidance(Tensor prediction, double scale) {
        ProcessGroup cfg = cfg();
        if (cfg.size() != 2) {
            throw new DiffuseException("cfg parallel needs a cfg group of 2 ranks (conditional and unconditional), got "
                    + cfg.size() + " in group '" + cfg.name() + "'; set cfg parallel to 2 or run both passes on each rank");
        }
        Tensor both = cfg.allGather(prediction.unsqueeze(0).contiguous()); // (2, ...) in cfg-rank order
        Tensor cond = both.select(0, 0);
        Tensor uncond = both.select(0, 1);
        return uncond.add(cond.sub(uncond).mul(new Scalar(scale)));
    }
}
