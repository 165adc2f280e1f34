package io.diffuse.api.embed;

import io.diffuse.api.model.ProgressListener;

/**
 * A loaded engine on one rank: the model is loaded once, requests run one after another. In a
 * multi-rank world every rank calls {@link #generate} with the same requests in the same order.
 */
public interface DiffuseEngine extends AutoCloseable {
    /** This process's rank. */
    int rank();

    /** Ranks in the world. */
    int worldSize();

    /** The model this engine serves, e.g. "builtin:demo (hunyuanvideo-1.5)". */
    String model();

    /**
     * Generates one video; rank 0 writes the request's outputs, each atomically.
     *
     * @throws io.diffuse.api.DiffuseException (one line) for a request the model cannot run, checked before
     *         any work; a request may change the plan within the world (strategy, degrees, VAE executor,
     *         through its settings) but not the model, the number of ranks, the device or the dtype
     */
    VideoResult generate(VideoRequest request, ProgressListener listener);

    /** {@link #generate(VideoRequest, ProgressListener)} without progress. */
    default VideoResult generate(VideoRequest request) {
        return generate(request, ProgressListener.NONE);
    }

    /** Releases the model and leaves the world. */
    @Override
    void close();
}
