package io.diffuse.api.tensor;

import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * The one way plugins hand a tensor out of a {@link PointerScope}: libtorch tensors are native memory
 * the GC does not see, so work runs in a scope that frees its temporaries when it closes, and the
 * result moves to the caller's scope (or, with none open, is retained for the caller to release).
 */
public final class Scopes {
    private Scopes() {
    }

    /** Moves {@code t} out of the current scope: into {@code outer} if there is one, else retained for the caller. */
    public static Tensor escape(Tensor t, PointerScope outer) {
        if (outer != null) {
            outer.attach(t);
        } else {
            t.retainReference();
        }
        return t;
    }

    /** Runs {@code body} in its own scope, freeing its temporaries, and hands its result to the caller's scope. */
    public static Tensor inCallerScope(Supplier<Tensor> body) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            return escape(body.get(), outer);
        }
    }
}
