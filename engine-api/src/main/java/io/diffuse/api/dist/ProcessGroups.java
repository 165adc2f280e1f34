package io.diffuse.api.dist;

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
}
