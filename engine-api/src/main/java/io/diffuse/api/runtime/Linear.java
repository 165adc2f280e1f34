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
 * attention, which call BLAS inside them). Here an fp32 CPU linear with enough rows (see
 * {@link #usesOneDnnFor}) runs instead as a 1x1 oneDNN convolution ({@code mkldnn_convolution}, part
 * of the presets' libtorch) on channels-last views of the same memory, so nothing is copied: oneDNN
 * threads over libtorch's own OpenMP pool, all {@code diffuse.threads} of it, with nothing to nest.
 * Measured on a 2-core AMD EPYC: 1.7-3.4x faster than OpenBLAS on one thread for the transformer's
 * linears (docs/benchmarks.md, "Linears on every thread"). fp32 throughout; it differs from OpenBLAS
 * only in summation order (max 6e-6 on outputs of magnitude 8). Other devices, dtypes and
 * {@code diffuse.linear.backend = blas} take {@code torch.linear} unchanged.
 */
public final class Linear {
    /** Fewest rows (product of the leading dims) an fp32 CPU linear needs to go through oneDNN. */
    public static final long MIN_ROWS = 64;
    /** Weight elements per row of input beyond which oneDNN's per-call weight reorder is not repaid. */
    public static final long WEIGHT_ELEMENTS_PER_ROW = 32_768;
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

    /**
     * Whether {@link #linear} runs {@code x} times {@code weight} in oneDNN: fp32 CPU tensors, oneDNN
     * enabled, and at least {@link #MIN_ROWS} rows and one row per {@link #WEIGHT_ELEMENTS_PER_ROW}
     * weight elements. oneDNN reorders the weight into its blocked layout on every call, a cost that
     * grows with the weight while the GEMM it speeds up grows with rows x weight; measured break-even
     * (2-core AMD EPYC): 16-64 rows for a 512 x 2,048 weight, about 256 for 2,048 x 8,192 and 256-512
     * for 3,584 x 18,944 (a Qwen MLP); the rule asks for twice that (512 and 2,072 rows there), so a
     * GEMV, a prompt through a large text encoder, or the modulation of one timestep stay in OpenBLAS.
     */
    public static boolean usesOneDnnFor(Tensor x, Tensor weight, Tensor bias) {
        long in = x.size(-1);
        long rows = in == 0 ? 0 : x.numel() / in;
        return rows >= MIN_ROWS && rows >= weight.numel() / WEIGHT_ELEMENTS_PER_ROW && usesOneDnn()
                && x.device().is_cpu() && isFloat(x) && isFloat(weight) && (bias == null || isFloat(bias));
    }

    /** {@code F.linear(x, weight, bias)}: x (..., K), weight (N, K), bias (N) or null -> (..., N). */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        if (!usesOneDnnFor(x, weight, bias)) {
            return torch.linear(x, weight, bias == null ? new TensorOptional() : new TensorOptional(bias));
        }
        long in = x.size(-1);
        long rows = x.numel() / in;
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
