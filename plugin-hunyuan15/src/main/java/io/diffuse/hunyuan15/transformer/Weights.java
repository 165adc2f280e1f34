package io.diffuse.hunyuan15.transformer;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/**
 * The model's parameters by checkpoint name, in the run dtype on the run device. Owns them: each
 * tensor is retained outside every PointerScope and released by {@link #close()}.
 */
final class Weights implements AutoCloseable {
    private final Map<String, Tensor> tensors = new HashMap<>();

    /** Checks {@code checkpoint} against {@code expected} (names and shapes), then loads every tensor. */
    static Weights load(Checkpoint checkpoint, Map<String, long[]> expected, DType dtype, Device device) {
        checkpoint.verify(expected);
        Weights w = new Weights();
        try {
            for (String key : expected.keySet()) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor t = checkpoint.load(key, dtype).to(device, dtype.scalarType());
                    t.retainReference();
                    w.tensors.put(key, t);
                }
            }
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
        return w;
    }

    /** The parameter called {@code name}. */
    Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new DiffuseException("model parameter '" + name + "' was not loaded");
        }
        return t;
    }

    @Override
    public void close() {
        for (Tensor t : tensors.values()) {
            t.releaseReference();
        }
        tensors.clear();
    }
}
