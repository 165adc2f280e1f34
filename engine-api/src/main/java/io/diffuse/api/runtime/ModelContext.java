package io.diffuse.api.runtime;

import io.diffuse.api.checkpoint.CheckpointLoader;
import java.util.Map;
import org.bytedeco.pytorch.Device;

/**
 * What is fixed when a model is loaded on a rank: the device, the dtype, the checkpoint reader and the
 * configuration. A loaded model serves many requests, each with its own {@link RuntimeContext} (process
 * groups, plan, strategy, VAE executor), so a server can run {@code ulysses 2 x cfg 2} and then
 * {@code ring 4} on one loaded model.
 */
public interface ModelContext {
    /** Device tensors live on (CPU, or this rank's CUDA device). */
    Device device();

    /** Compute dtype. */
    DType dtype();

    /** The engine's checkpoint and safetensors reader. */
    CheckpointLoader checkpoints();

    /**
     * This process's global rank among the ranks that load the model together (0 when it runs alone).
     * A component used once per world need only load where it runs: the HunyuanVideo 1.5 pipeline loads its
     * prompt encoders on rank 0 alone, which encodes every prompt and broadcasts the embeddings.
     */
    default int rank() {
        return 0;
    }

    /**
     * The engine's effective configuration under {@code path} (e.g. {@code "diffuse.hunyuan15"}), for
     * plugins, which cannot read the engine's configuration format themselves: every leaf below
     * {@code path}, keyed by its dotted path relative to it (e.g. {@code "text-encoder.torchscript"}),
     * with plain values (String, Number, Boolean, or a List of those); read them with
     * {@link io.diffuse.api.config.PluginSettings}. Includes the defaults of every installed bundle's
     * reference.conf and the user's overrides.
     *
     * @return the leaves under {@code path}; empty when the path is absent, and by default
     */
    default Map<String, Object> configuration(String path) {
        return Map.of();
    }
}
