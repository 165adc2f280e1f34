package io.diffuse.api.cache;

/**
 * Which forward a {@link StepCache} is asked about: the denoising step index (from 0) and the
 * guidance branch, named as diffusers' guider names its cache contexts.
 */
public record CacheStep(int step, String branch) {
    /** The conditional (prompted) forward, and the only one without guidance. */
    public static final String COND = "pred_cond";
    /** The unconditional (negative prompt) forward of classifier-free guidance. */
    public static final String UNCOND = "pred_uncond";
}
