import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Run by tools/bench/blas_threads.sh. One process, libtorch on {@code threads} intra-op threads: a linear
 * 3,097 x 512 -> 2,048 and an SDPA 4 heads x 3,097 x 128 (the transformer benchmark's shapes) under each
 * BLAS thread policy, interleaved per repeat so load swings hit every policy alike:
 * <ul>
 * <li>blas1: OpenBLAS on 1 thread everywhere (the engine before scoping);
 * <li>blasN: OpenBLAS on N threads everywhere (SDPA's flash kernel nests it under OpenMP);
 * <li>scoped: N threads set for the linear, 1 for SDPA (blas_set_num_threads around each op, its cost included);
 * <li>onednn: the engine's io.diffuse.api.runtime.Linear (a 1x1 oneDNN convolution on channels-last views, no copy),
 *     BLAS on 1 thread.
 * </ul>
 * Plus "layer": linear, gelu, SDPA, linear in a row, the way a block interleaves them (blas1 / scoped),
 * which shows whether OpenBLAS's spinning pool slows the OpenMP kernels after it.
 */
public class BlasThreadsBench {
    public static void main(String[] a) {
        int threads = Integer.parseInt(a[0]);
        int reps = Integer.parseInt(a[1]);
        torch.set_num_threads(threads);
        torch.manual_seed(1);
        Tensor x = torch.randn(3097, 512);
        Tensor w = torch.randn(2048, 512).mul(new org.bytedeco.pytorch.Scalar(0.05));
        Tensor bias = torch.randn(2048);
        Tensor w2 = torch.randn(512, 2048).mul(new org.bytedeco.pytorch.Scalar(0.05));
        Tensor q = torch.randn(1, 4, 3097, 128), k = torch.randn(1, 4, 3097, 128), v = torch.randn(1, 4, 3097, 128);
        Tensor ref = torch.linear(x, w, new TensorOptional(bias));
        Tensor dnn = oneDnnLinear(x, w, bias);
        openblas_nolapack.blas_set_num_threads(threads);
        Tensor refN = torch.linear(x, w, new TensorOptional(bias));
        openblas_nolapack.blas_set_num_threads(1);
        System.out.printf("max |linear blas%d - blas1| %.3g, max |onednn - blas1| %.3g (max |linear| %.3g)%n", threads,
                refN.sub(ref).abs().max().item_double(), dnn.sub(ref).abs().max().item_double(), ref.abs().max().item_double());
        String[] names = {"linear blas1", "linear blas" + threads, "linear scoped", "linear onednn", "sdpa blas1",
            "sdpa blas" + threads, "sdpa scoped", "layer blas1", "layer scoped", "layer onednn"};
        long[][] us = new long[names.length][reps];
        for (int r = -2; r < reps; r++) {
            for (int c = 0; c < names.length; c++) {
                openblas_nolapack.blas_set_num_threads(c == 1 || c == 5 ? threads : 1);
                long t0 = System.nanoTime();
                try (PointerScope s = new PointerScope()) {
                    switch (c) {
                        case 0, 1 -> torch.linear(x, w, new TensorOptional(bias));
                        case 2 -> scopedLinear(x, w, bias, threads);
                        case 3 -> oneDnnLinear(x, w, bias);
                        case 4, 5, 6 -> torch.scaled_dot_product_attention(q, k, v);
                        case 7 -> layer(x, w, bias, w2, q, k, v, 0, threads);
                        case 8 -> layer(x, w, bias, w2, q, k, v, 1, threads);
                        case 9 -> layer(x, w, bias, w2, q, k, v, 2, threads);
                        default -> throw new IllegalStateException();
                    }
                }
                if (r >= 0) {
                    us[c][r] = (System.nanoTime() - t0) / 1000;
                }
            }
        }
        openblas_nolapack.blas_set_num_threads(1);
        System.out.printf("threads %d, %d repeats after 2 warm-ups, ms (median / min):%n", threads, reps);
        for (int c = 0; c < names.length; c++) {
            long[] s = us[c].clone();
            Arrays.sort(s);
            System.out.printf("  %-16s %8.1f / %8.1f%n", names[c], s[reps / 2] / 1000.0, s[0] / 1000.0);
        }
    }

    static Tensor scopedLinear(Tensor x, Tensor w, Tensor b, int threads) {
        openblas_nolapack.blas_set_num_threads(threads);
        try {
            return torch.linear(x, w, new TensorOptional(b));
        } finally {
            openblas_nolapack.blas_set_num_threads(1);
        }
    }

    /** The engine's route: io.diffuse.api.runtime.Linear (a 1x1 oneDNN convolution on channels-last views). */
    static Tensor oneDnnLinear(Tensor x, Tensor w, Tensor b) {
        return io.diffuse.api.runtime.Linear.linear(x, w, b);
    }

    static void layer(Tensor x, Tensor w, Tensor b, Tensor w2, Tensor q, Tensor k, Tensor v, int mode, int threads) {
        Tensor h = mode == 0 ? torch.linear(x, w, new TensorOptional(b))
                : mode == 1 ? scopedLinear(x, w, b, threads) : oneDnnLinear(x, w, b);
        h = torch.gelu(h);
        torch.scaled_dot_product_attention(q, k, v).sum().item_double();
        Tensor y = mode == 0 ? torch.linear(h, w2, new TensorOptional())
                : mode == 1 ? scopedLinear2(h, w2, threads) : oneDnnLinearNoBias(h, w2);
        y.sum().item_double();
    }

    static Tensor scopedLinear2(Tensor x, Tensor w, int threads) {
        openblas_nolapack.blas_set_num_threads(threads);
        try {
            return torch.linear(x, w, new TensorOptional());
        } finally {
            openblas_nolapack.blas_set_num_threads(1);
        }
    }

    static Tensor oneDnnLinearNoBias(Tensor x, Tensor w) {
        return io.diffuse.api.runtime.Linear.linear(x, w, null);
    }
}
