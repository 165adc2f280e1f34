package io.diffuse.api.cache;

/**
 * One decision of a {@link StepCache}: at {@code step} for {@code branch}, whether the remaining
 * blocks were computed ({@code computed}) or their cached residual reused, and the statistic behind
 * it (NaN when the policy has none, e.g. the first step).
 */
public record CacheDecision(int step, String branch, boolean computed, double statistic) {
}
