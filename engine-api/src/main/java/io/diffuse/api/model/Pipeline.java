package io.diffuse.api.model;

import io.diffuse.api.runtime.RuntimeContext;

/**
 * A loaded model that runs generation requests, on every rank of a run: loaded once per rank by
 * {@link ModelProvider#load}, it serves every request of that process (see docs/plugins.md).
 */
public interface Pipeline extends AutoCloseable {
    /**
     * Runs one request; every rank calls it with the same request, in the same order. Call
     * {@link ProgressListener#interruptRequested} after every denoising step (and throw
     * {@link GenerationInterruptedException} when it answers true): cancel, timeout and drain stop a
     * job only there.
     */
    GenerationResult generate(GenerationRequest request, RuntimeContext context, ProgressListener progress);

    /** Releases weights; called once, when the engine is done with the model on this rank, never between requests. */
    @Override
    void close();
}
