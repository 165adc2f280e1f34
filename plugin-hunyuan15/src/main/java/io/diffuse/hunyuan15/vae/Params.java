package io.diffuse.hunyuan15.vae;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/**
 * The parameters a module tree declares while it is built (checkpoint key and shape), filled from a
 * checkpoint afterwards. Declaring first gives the strict loader the exact expected key set.
 */
final class Params {
    /** One declared parameter; {@link #get()} is valid once loaded. */
    static final class Param {
        final String key;
        final long[] shape;
        private Tensor value;

        private Param(String key, long[] shape) {
            this.key = key;
            this.shape = shape;
        }

        Tensor get() {
            if (value == null) {
                throw new IllegalStateException("parameter " + key + " used before the weights were loaded");
            }
            return value;
        }
    }

    private final Map<String, Param> all;
    private final String prefix;

    Params() {
        this(new LinkedHashMap<>(), "");
    }

    private Params(Map<String, Param> all, String prefix) {
        this.all = all;
        this.prefix = prefix;
    }

    /** A view whose keys start with {@code prefix + name + "."}. */
    Params child(String name) {
        return new Params(all, prefix + name + ".");
    }

    Param declare(String name, long... shape) {
        Param p = new Param(prefix + name, shape);
        if (all.putIfAbsent(p.key, p) != null) {
            throw new IllegalStateException("parameter declared twice: " + p.key);
        }
        return p;
    }

    /** Expected key to shape, for {@link Checkpoint#verify}. */
    Map<String, long[]> expected() {
        Map<String, long[]> m = new LinkedHashMap<>();
        all.forEach((k, p) -> m.put(k, p.shape.clone()));
        return m;
    }

    /**
     * Verifies {@code checkpoint} against the declared parameters, then loads every one in
     * {@code dtype} onto {@code device}. The tensors belong to this object (not to any open
     * {@link PointerScope}) until {@link #close()}.
     */
    void load(Checkpoint checkpoint, DType dtype, Device device) {
        checkpoint.verify(expected());
        List<Tensor> loaded = new ArrayList<>();
        try {
            for (Param p : all.values()) {
                Tensor t;
                try (PointerScope scope = new PointerScope()) {
                    t = checkpoint.load(p.key, dtype);
                    if (device != null && !device.is_cpu()) {
                        t = t.to(device, t.scalar_type());
                    }
                    t.retainReference(); // outlives the scope; released by close()
                }
                loaded.add(t);
                p.value = t;
            }
        } catch (RuntimeException e) {
            loaded.forEach(Tensor::releaseReference);
            all.values().forEach(p -> p.value = null);
            throw e;
        }
    }

    /** Releases every loaded parameter. */
    void close() {
        for (Param p : all.values()) {
            if (p.value != null) {
                p.value.releaseReference();
                p.value = null;
            }
        }
    }
}
