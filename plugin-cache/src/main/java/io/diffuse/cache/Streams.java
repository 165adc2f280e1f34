package io.diffuse.cache;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/** Element-wise arithmetic on per-batch-item tensor lists. */
final class Streams {
    private Streams() {
    }

    static List<Tensor> add(List<Tensor> a, List<Tensor> b) {
        List<Tensor> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            out.add(a.get(i).add(b.get(i)));
        }
        return out;
    }

    static List<Tensor> sub(List<Tensor> a, List<Tensor> b) {
        List<Tensor> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            out.add(a.get(i).sub(b.get(i)));
        }
        return out;
    }
}
