package io.diffuse.api.model;

import io.diffuse.api.runtime.RuntimeContext;

/** A loaded model that runs generation requests, on every rank of a run. */
public interface Pipeline extends AutoCloseable {
    /** Runs one request; every rank calls it with the same request. */
    GenerationResult generate(GenerationRequest request, RuntimeContext context, ProgressListener progress);

    /** Releases weights. */
    @Override
    void close();
}
