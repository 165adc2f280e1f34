package io.diffuse.api.checkpoint;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import io.diffuse.api.runtime.DType;

/**
 * One model component in diffusers layout (config.json plus one or more safetensors files), opened
 * for reading. Tensors are read lazily from memory-mapped files: mapped in place when stored in the
 * run dtype, else converted to it.
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

    /**
     * Reads tensor {@code key} as {@code dtype}. Stored in {@code dtype} (and aligned), it is a view
     * of the memory-mapped file that keeps the mapping alive after {@link #close()} (zero copy; a write
     * to it goes to private pages, never to the file); otherwise it is converted into memory it owns.
     */
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
