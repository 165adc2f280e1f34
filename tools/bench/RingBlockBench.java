package io.diffuse.usp.attention;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Run by tools/bench/ring_block.sh. Per-layer Ring 2 block attention of one rank on the benchmark model's shapes: fused vs
 * materialised (joint partials of all joint queries, as before 2026-12-02's joint slices), and fused with this rank's
 * slice of the joint queries (the current scheme; the all-gather itself is not part of either).
 */
public class RingBlockBench {
    public static void main(String[] a) {
        int threads = Integer.parseInt(a[0]);
        int reps = Integer.parseInt(a[1]);
        torch.set_num_threads(threads);
        org.bytedeco.openblas.global.openblas_nolapack.blas_set_num_threads(1);
        torch.manual_seed(1);
        Tensor q = torch.randn(1, 1024, 4, 128), k0 = torch.randn(1, 1024, 4, 128), v0 = torch.randn(1, 1024, 4, 128);
        Tensor k1 = torch.randn(1, 1024, 4, 128), v1 = torch.randn(1, 1024, 4, 128);
        Tensor jq = torch.randn(1, 1049, 4, 128), jk = torch.randn(1, 1049, 4, 128), jv = torch.randn(1, 1049, 4, 128);
        Tensor jm = torch.ones(1, 1049).to(torch.ScalarType.Bool);
        Tensor js = jq.narrow(1, 0, 525); // this rank's slice of the joint queries (ceil(1049 / 2))
        long[][] ms = new long[4][reps];
        Tensor uq = torch.randn(1, 2, 3097, 128), uk = torch.randn(1, 2, 3097, 128), uv = torch.randn(1, 2, 3097, 128);
        for (int r = -1; r < reps; r++) {
            for (int fused = 0; fused < 4; fused++) {
                long t0 = System.nanoTime();
                try (PointerScope s = new PointerScope()) {
                    boolean f = fused == 1;
                    if (fused == 2) {
                        torch.scaled_dot_product_attention(uq, uk, uv).sum().item_double();
                    } else if (fused == 3) {
                        // Joint slices: video as before; this rank's 525 joint queries over both video blocks and the joint keys.
                        Partial video = run(true, q, k0, v0, null).merge(run(true, q, jk, jv, jm)).merge(run(true, q, k1, v1, null));
                        Partial slice = run(true, js, k0, v0, null).merge(run(true, js, jk, jv, jm)).merge(run(true, js, k1, v1, null));
                        video.out().sum().item_double();
                        slice.out().sum().item_double();
                    } else {
                        Partial video = run(f, q, k0, v0, null).merge(run(f, q, jk, jv, jm)).merge(run(f, q, k1, v1, null));
                        Partial joint = run(f, jq, k0, v0, null).merge(run(f, jq, jk, jv, jm));
                        video.out().sum().item_double();
                        joint.out().sum().item_double();
                    }
                }
                if (r >= 0) {
                    ms[fused][r] = (System.nanoTime() - t0) / 1_000_000;
                }
            }
        }
        java.util.Arrays.sort(ms[0]);
        java.util.Arrays.sort(ms[1]);
        java.util.Arrays.sort(ms[2]);
        java.util.Arrays.sort(ms[3]);
        System.out.printf("fused with joint slices median %d (all %s), slices/all-gathered partials %.2f%n", ms[3][reps / 2],
                java.util.Arrays.toString(ms[3]), (double) ms[3][reps / 2] / ms[1][reps / 2]);
        System.out.printf("ulysses-2 rank SDPA (2 heads x 3097 tokens) median %d (all %s)%n", ms[2][reps / 2], java.util.Arrays.toString(ms[2]));
        System.out.printf("threads %d, %d reps, ms per layer: materialised median %d (all %s), fused median %d (all %s), fused/materialised %.2f%n",
                threads, reps, ms[0][reps / 2], java.util.Arrays.toString(ms[0]), ms[1][reps / 2], java.util.Arrays.toString(ms[1]),
                (double) ms[1][reps / 2] / ms[0][reps / 2]);
    }

    private static Partial run(boolean fused, Tensor q, Tensor k, Tensor v, Tensor mask) {
        return fused ? BlockAttention.attendFused(q, k, v, mask) : BlockAttention.attend(q, k, v, mask, 64L << 20);
    }
}
