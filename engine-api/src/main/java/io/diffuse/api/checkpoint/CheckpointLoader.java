package io.diffuse.api.checkpoint;

import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * Reads diffusers-layout checkpoints and safetensors files; provided by the engine so that every
 * model bundle loads weights the same strict way.
 */
public interface CheckpointLoader {
    /**
     * Opens component {@code component} (e.g. "transformer", "vae") of {@code dir}, which is either a
     * pipeline root (model_index.json with a {@code component/} subfolder) or the component folder.
     * Errors (no config.json, unparsable JSON, truncated files, lying headers) name the file.
     */
    Checkpoint open(Path dir, String component);

    /** Reads every tensor of one safetensors file (run-component inputs). */
    Map<String, Tensor> readTensors(Path file);

    /** Writes tensors to a safetensors file atomically (temporary name, then rename). */
    void writeTensors(Path file, Map<String, Tensor> tensors);
}
