package io.diffuse.api.model;

/** Receives progress from a pipeline: stages (encode, denoise, decode) and denoising steps. */
public interface ProgressListener {
    /** A listener that ignores everything. */
    ProgressListener NONE = new ProgressListener() { };

    /** A stage begins. */
    default void stageStarted(String stage) {
    }

    /** Step {@code step} (1-based) of {@code total} in {@code stage} finished. */
    default void step(String stage, int step, int total) {
    }

    /** A stage ended. */
    default void stageFinished(String stage) {
    }

    /**
     * Asked by the pipeline on every rank after each denoising step (diffusers' {@code interrupt}
     * property, read in its loop) and at the boundary after a stage that precedes denoising (encode,
     * with {@code step} and {@code total} 0), so a long encode can be stopped too: {@code true} stops
     * the request there with a {@link GenerationInterruptedException}. In a multi-rank run every rank must answer the same at
     * the same step (a server decides on rank 0 and broadcasts the answer), or the ranks' collectives
     * no longer match. Default: never.
     *
     * @param step the step just finished (1-based)
     * @param total steps of the stage
     */
    default boolean interruptRequested(String stage, int step, int total) {
        return false;
    }
}
