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
}
