package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * An encoder's parameters by module name (checkpoint key without the model's prefix), in the run
 * dtype on the run device. Owns them: each tensor is retained outside every PointerScope and released
 * by {@link #close()}.
 */
public final class EncoderWeights implements AutoCloseable {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private EncoderWeights() {
    }

    /**
     * Verifies {@code checkpoint} strictly against {@code expected} (names relative to {@code prefix},
     * with shapes), then loads the names in {@code expected} that {@code used} accepts.
     */
    public static EncoderWeights load(Checkpoint checkpoint, String prefix, Map<String, long[]> expected,
            java.util.function.Predicate<String> used, DType dtype, Device device) {
        Map<String, long[]> full = new LinkedHashMap<>();
        expected.forEach((k, v) -> full.put(prefix + k, v));
        checkpoint.verify(full);
        EncoderWeights w = new EncoderWeights();
        try {
            for (String key : expected.keySet()) {
                if (!used.test(key)) {
                    continue;
                }
                try (PointerScope scope = new PointerScope()) {
                    Tensor t = checkpoint.load(prefix + key, dtype).to(device, dtype.scalarType());
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

    /** Takes tensors made in code (e.g. random test encoders); each is retained, converted to dtype. */
    public static EncoderWeights of(Map<String, Tensor> params, DType dtype, Device device) {
        EncoderWeights w = new EncoderWeights();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            try (PointerScope scope = new PointerScope()) {
                Tensor t = e.getValue().to(device, dtype.scalarType()).contiguous();
                t.retainReference();
                w.tensors.put(e.getKey(), t);
            }
        }
        return w;
    }

    /** The parameter called {@code name}. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new DiffuseException("encoder parameter '" + name + "' was not loaded");
        }
        return t;
    }

    /** True when parameter {@code name} was loaded. */
    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public void close() {
        for (Tensor t : tensors.values()) {
            t.releaseReference();
        }
        tensors.clear();
    }
}
