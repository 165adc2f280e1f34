package io.diffuse.core.distributed;

import io.diffuse.api.runtime.Linear;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CPU threads of this process (one rank). libtorch parallelises its kernels with OpenMP
 * ({@code diffuse.threads}); BLAS is kept on one thread. The presets' libtorch calls OpenBLAS (a
 * pthreads build), and kernels such as CPU flash attention call it from inside their OpenMP regions:
 * a multi-threaded OpenBLAS there starts its own pool under every OpenMP thread, and on a small
 * host one scaled_dot_product_attention became 60x slower (25 s against 0.4 s, 4 heads x 3097
 * tokens x 128, 2 cores). Single-threaded BLAS inside parallel kernels is what PyTorch's MKL builds
 * do too. The GEMMs outside parallel regions, the models' fp32 linear layers, still get every
 * thread: they run in oneDNN over libtorch's OpenMP pool ({@link Linear}, {@code diffuse.linear.backend}).
 */
public final class IntraOpThreads {
    private static final Logger LOG = LoggerFactory.getLogger(IntraOpThreads.class);

    private IntraOpThreads() {
    }

    /**
     * Sets libtorch's intra-op threads to {@code threads} (0 keeps libtorch's default), OpenBLAS to one
     * thread, and whether fp32 CPU linears run in oneDNN ({@code linearBackend} onednn) or OpenBLAS (blas).
     */
    public static void apply(int threads, String linearBackend) {
        if (threads > 0) {
            torch.set_num_threads(threads);
        }
        openblas_nolapack.blas_set_num_threads(1);
        Linear.useOneDnn(linearBackend.equals("onednn"));
        LOG.debug("libtorch intra-op threads {}, OpenBLAS threads 1, fp32 CPU linears in {}", torch.get_num_threads(),
                Linear.usesOneDnn() ? "oneDNN" : "OpenBLAS");
    }
}
