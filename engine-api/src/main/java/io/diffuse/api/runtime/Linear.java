package io.diffuse.api.runtime;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * {@code F.linear(x, weight, bias)} for models, with fp32 CPU GEMMs on every intra-op thread.
 *
 * <p>libtorch's CPU {@code linear} runs its GEMM in the presets' OpenBLAS, which the engine keeps on
 * one thread (its pthreads pool would nest under the OpenMP loops of kernels such as CPU flash
 * attention, which call BLAS inside them). Here an fp32 CPU linear of at least {@link #MIN_ROWS} rows
 * runs instead as a 1x1 oneDNN convolution ({@code mkldnn_convolution}, part of the presets'
 * libtorch) on channels-last views of the same memory, so nothing is copied: oneDNN threads over
 * libtorch's own OpenMP pool, all {@code diffuse.threads} of it, with nothing to nest. Measured on
 * a 2-core AMD EPYC: 2.5-3.4x faster than OpenBLAS on one thread for the transformer's linears
 * (docs/benchmarks.md, "Linears on every thread"). fp32 throughout; it differs from OpenBLAS
 * only in summation order (max 6e-6 on outputs of magnitude 8). Fewer rows (a GEMV such as the
 * modulation of one timestep) stay in BLAS, where oneDNN's per-call weight reordering would cost
 * more than it saves. Other devices, dtypes and {@code diffuse.linear.backend = blas} take
 * {@code torch.linear} unchanged.
 */
public final class Linear {
    /** Rows (product of the leading dims) from which an fp32 CPU linear goes through oneDNN. */
    public static final long MIN_ROWS = 16;
    private static final boolean HAS_ONEDNN = torch.hasMKLDNN();
    private static volatile boolean oneDnn = true;

    private Linear() {
    }

    /**
     * Whether fp32 CPU linears may run in oneDNN (true by default); set by the engine on each rank
     * from {@code diffuse.linear.backend} ({@code onednn} or {@code blas}).
     */
    public static void useOneDnn(boolean enabled) {
        oneDnn = enabled;
    }

    /** Whether fp32 CPU linears run in oneDNN on this process. */
    public static boolean usesOneDnn() {
        return oneDnn && HAS_ONEDNN;
    }

    private static boolean isFloat(Tensor t) {
        // JavaCPP hands back enum values that are not always the same instance: compare the numbers.
        return t.scalar_type().value == ScalarType.Float.value;
    }

    /** {@code F.linear(x, weight, bias)}: x (..., K), weight (N, K), bias (N) or null -> (..., N). */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        long in = x.size(-1);
        long rows = in == 0 ? 0 : x.numel() / in;
        if (rows < MIN_ROWS || !usesOneDnn() || !x.device().is_cpu() || !isFloat(x) || !isFloat(weight)
                || (bias != null && !isFloat(bias))) {
            return torch.linear(x, weight, bias == null ? new TensorOptional() : new TensorOptional(bias));
        }
        long out = weight.size(0);
        long[] outShape = x.sizes().vec().get();
        outShape[outShape.length - 1] = out;
        // (..., K) -> (rows, K) row-major = (1, K, rows, 1) in channels-last (strides rows*K, 1, K, K): a view.
        Tensor flat = x.reshape(rows, in).contiguous();
        Tensor image = flat.as_strided(new long[] {1, in, rows, 1}, new long[] {rows * in, 1, in, in});
        Tensor kernel = weight.contiguous().view(out, in, 1, 1); // (N, K) -> (N, K, 1, 1)
        Tensor y = torch.mkldnn_convolution(image, kernel, bias == null ? new TensorOptional() : new TensorOptional(bias),
                new long[] {0, 0}, new long[] {1, 1}, new long[] {1, 1}, 1); // (1, N, rows, 1), channels-last
        // (1, N, rows, 1) channels-last -> (1, rows, 1, N) = (rows, N) row-major: a view -> (..., N).
        return y.permute(0, 2, 3, 1).reshape(outShape);
    }
}
