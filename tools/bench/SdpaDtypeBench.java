// Run by hand (docs/benchmarks.md, "bf16 attention"): scaled_dot_product_attention of 4 heads x 3,097 x 128 and a
// 2,048-cube matmul, fp32 and bf16, flash and math, best of N after one warm-up. Usage, repository root after
// mvn install: javac -cp "distribution/target/diffuse/lib/*" -d /tmp/sdpa tools/bench/SdpaDtypeBench.java &&
// java -cp "/tmp/sdpa:distribution/target/diffuse/lib/*" SdpaDtypeBench 2 3   (python3 tools/bench/sdpa_dtype.py 2 3)
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.*;
import org.bytedeco.pytorch.global.torch;
public class SdpaDtypeBench {
    public static void main(String[] a) {
        torch.set_num_threads(Integer.parseInt(a[0]));
        org.bytedeco.openblas.global.openblas_nolapack.blas_set_num_threads(1);
        int reps = Integer.parseInt(a[1]);
        torch.manual_seed(1);
        for (torch.ScalarType dt : new torch.ScalarType[]{torch.ScalarType.Float, torch.ScalarType.BFloat16}) {
            Tensor q = torch.randn(1, 4, 3097, 128).to(dt), k = torch.randn(1, 4, 3097, 128).to(dt), v = torch.randn(1, 4, 3097, 128).to(dt);
            Tensor m1 = torch.randn(2048, 2048).to(dt), m2 = torch.randn(2048, 2048).to(dt);
            Context c = torch.globalContext();
            for (String be : new String[]{"flash", "math", "matmul2048"}) {
                c.setSDPUseFlash(be.equals("flash")); c.setSDPUseMath(be.equals("math"));
                long best = Long.MAX_VALUE;
                for (int r = -1; r < reps; r++) {
                    long t0 = System.nanoTime();
                    try (PointerScope s = new PointerScope()) {
                        if (be.equals("matmul2048")) m1.matmul(m2).sum().item_double();
                        else torch.scaled_dot_product_attention(q, k, v).sum().item_double();
                    }
                    long t = System.nanoTime() - t0;
                    if (r >= 0) best = Math.min(best, t);
                }
                double flop = be.equals("matmul2048") ? 2.0 * 2048 * 2048 * 2048 : 4.0 * 4 * 3097.0 * 3097 * 128;
                System.out.printf("java %s %s best %.1f ms %.1f GFLOP/s%n", dt, be, best / 1e6, flop / best);
            }
            c.setSDPUseFlash(true); c.setSDPUseMath(true);
        }
        System.out.println(torch.show_config().getString());
    }
}
