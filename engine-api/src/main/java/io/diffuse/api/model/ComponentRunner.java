package io.diffuse.api.model;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * One model component (transformer, VAE encoder or decoder) loaded for direct use with named
 * tensors, as {@code diffuse run-component} does: inputs are named as the reference
 * implementation's forward arguments, outputs as its results.
 */
public interface ComponentRunner extends AutoCloseable {
    /** Input names this component requires. */
    java.util.Set<String> requiredInputs();

    /** Runs the component on every rank; the returned tensors are the full result on every rank. */
    Map<String, Tensor> run(Map<String, Tensor> inputs);

    /** Releases weights. */
    @Override
    void close();
}
