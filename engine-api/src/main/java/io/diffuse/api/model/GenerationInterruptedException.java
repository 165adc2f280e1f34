package io.diffuse.api.model;

import io.diffuse.api.DiffuseException;

/**
 * A request stopped between denoising steps, or at a stage boundary, because its {@link ProgressListener}
 * asked to interrupt it.
 */
public class GenerationInterruptedException extends DiffuseException {
    private static final long serialVersionUID = 1L;
    private final int step;

    public GenerationInterruptedException(String stage, int step, int total) {
        super("interrupted after " + stage + " step " + step + " of " + total);
        this.step = step;
    }

    /** Stopped at the boundary after {@code stage} (e.g. "encode"), before the next stage began. */
    public GenerationInterruptedException(String stage) {
        super("interrupted after the " + stage + " stage, before denoising");
        this.step = 0;
    }

    /** The last step that ran (1-based; 0 when stopped at a stage boundary). */
    public int step() {
        return step;
    }
}
