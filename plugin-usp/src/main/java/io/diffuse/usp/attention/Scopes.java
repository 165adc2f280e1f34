package io.diffuse.usp.attention;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * Moving a result out of a {@link PointerScope}: {@link #keep} it inside the scope (one extra
 * reference, so closing the scope does not free it), then {@link #adopt} it after the scope closed
 * (the caller's innermost scope takes it over; with no scope open the GC frees it).
 */
final class Scopes {
    private Scopes() {
    }

    /** Call inside the inner scope on a result that must outlive it. */
    static <T extends Pointer> T keep(T result) {
        if (result != null) {
            result.retainReference();
        }
        return result;
    }

    /** Call after the inner scope closed: hands the kept result to the caller's scope. */
    static <T extends Pointer> T adopt(T result) {
        PointerScope outer = PointerScope.getInnerScope();
        if (result != null && outer != null) {
            outer.attach(result);
            result.releaseReference();
        }
        return result;
    }
}
