package io.diffuse.api.model;

import io.diffuse.api.DiffuseException;

/** A request stopped between denoising steps because its {@link ProgressListener} asked to interrupt it. */
public class GenerationInterruptedException extends DiffuseException {
    private static final long serialVersionUID = 1L;
    private final int step;

    public GenerationInterruptedException(String stage, int step, int total) {
        super("interrupted after " + stage + " step " + step + " of " + total);
        this.step = step;
    }

    /** The last step that ran (1-based). */
    public int step() {
        return step;
    }
}
