package io.diffuse.usp;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.usp.attention.HeadDegrees;
import io.diffuse.usp.attention.UspAttention;

/**
 * What the three strategies share: all run {@link UspAttention} over the plan's Ulysses, Ring and
 * sequence groups; they differ in which degrees they accept.
 */
abstract class SequenceParallelStrategy implements ParallelStrategy {
    @Override
    public void validate(ParallelPlan plan, int numHeads) {
        checkDegrees(plan);
        HeadDegrees.check(plan.ulysses(), numHeads);
    }

    /** Throws {@link IllegalArgumentException} when this strategy cannot run the plan's degrees. */
    abstract void checkDegrees(ParallelPlan plan);

    @Override
    public SequenceParallelAttention create(ProcessGroups groups) {
        checkDegrees(groups.plan());
        return new UspAttention(groups.ulysses(), groups.ring(), groups.sequence());
    }
}
