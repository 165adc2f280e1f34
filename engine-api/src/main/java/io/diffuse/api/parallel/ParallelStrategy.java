package io.diffuse.api.parallel;

import io.diffuse.api.dist.ProcessGroups;

/**
 * A named way to run attention over a token sequence sharded across ranks ("local", "ulysses",
 * "ring", "usp"). Strategies are registered as services and picked by name from configuration;
 * a model never knows which one it got.
 */
public interface ParallelStrategy {
    /** Service property carrying {@link #name()}, used by configuration targets such as {@code (strategy.name=ring)}. */
    String NAME_PROPERTY = "strategy.name";

    /** The name configuration uses to choose this strategy. */
    String name();

    /** One line for {@code diffuse info}. */
    String description();

    /**
     * Checks that this strategy can run {@code plan} for a model with {@code numHeads} attention
     * heads, before any rank starts work.
     *
     * @throws IllegalArgumentException naming what is wrong and listing what is allowed
     *         (for example the valid Ulysses degrees)
     */
    void validate(ParallelPlan plan, int numHeads);

    /** Creates the attention for one model run over the sequence-parallel groups of {@code groups}. */
    SequenceParallelAttention create(ProcessGroups groups);

    /**
     * Checks this plugin's own configuration keys (types, ranges, files), before any rank starts; the
     * engine calls it for every installed plugin with the effective configuration below
     * {@code diffuse}. Default: nothing to check.
     *
     * @throws io.diffuse.api.DiffuseException one line naming the full path, e.g. via
     *         {@link io.diffuse.api.config.PluginSettings#invalid}
     */
    default void checkConfiguration(io.diffuse.api.config.PluginSettings diffuse) {
    }
}
