package io.diffuse.cache;

import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * Tensors a cache keeps from one denoising step to the next: each holds a reference of its own, so
 * the step's PointerScope closing does not free it; replacing or clearing releases it.
 */
final class HeldTensors {
    private List<Tensor> tensors;

    /** The held tensors, or null when none. */
    List<Tensor> get() {
        return tensors;
    }

    boolean isEmpty() {
        return tensors == null;
    }

    /** Holds {@code next} (releasing what was held). */
    void set(List<Tensor> next) {
        next.forEach(Tensor::retainReference);
        clear();
        tensors = List.copyOf(next);
    }

    void clear() {
        if (tensors != null) {
            tensors.forEach(Tensor::releaseReference);
            tensors = null;
        }
    }
}
