package io.diffuse.api.checkpoint;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import io.diffuse.api.runtime.DType;

/**
 * One model component in diffusers layout (config.json plus one or more safetensors files), opened
 * for reading. Tensors are read lazily from memory-mapped files and converted to the run dtype.
 */
public interface Checkpoint extends AutoCloseable {
    /** The component folder. */
    Path directory();

    /** config.json as nested maps, lists, strings, numbers and booleans. */
    Map<String, Object> config();

    /** Every tensor name in the checkpoint. */
    Set<String> keys();

    /** Shape of tensor {@code key} as stored, without reading it. */
    long[] shape(String key);

    /** Reads tensor {@code key} converted to {@code dtype}, in memory owned by the returned tensor. */
    Tensor load(String key, DType dtype);

    /**
     * Checks the checkpoint against a model's expected tensor names and shapes: any missing key,
     * unexpected key or wrong shape is an error naming the file and the tensor.
     *
     * @throws io.diffuse.api.DiffuseException listing every problem found
     */
    void verify(Map<String, long[]> expected);

    @Override
    void close();
}
