package io.diffuse.api.runtime;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The libtorch ops the models call that have no C++ kernel for the {@code meta} device, each with a
 * shape-only path there, plus helpers that create tensors on a given device. On every other device
 * each op is exactly the libtorch call.
 *
 * <p>The meta device (shapes, no data) lets the tests run whole models without a GPU and still
 * catch a tensor created on the CPU and mixed with device tensors: libtorch refuses such a mix on
 * meta as it does on CUDA. libtorch 2.10's C++ library registers no meta kernel for
 * {@code convolution} (conv2d, conv3d), {@code layer_norm} (its non-CPU/CUDA path calls
 * {@code native_batch_norm}), {@code scaled_dot_product_attention} (its math path calls
 * {@code where}), {@code index_select} (and so {@code embedding}), {@code abs}, {@code where},
 * {@code nonzero} and {@code item} (PyTorch's Python meta registrations, which cover them, are not
 * part of libtorch). On meta the shape paths below first make the check the real kernel makes, that
 * every tensor argument is on the first one's device, then return an uninitialised meta tensor of
 * the result's shape. The two data-dependent decisions take their largest shape on meta:
 * {@link #nonzeroIndex} keeps every position and {@link #allZero} answers false.
 */
public final class DeviceOps {
    private DeviceOps() {
    }

    /** Whether {@code t} lives on the meta device (shapes only). */
    public static boolean isMeta(Tensor t) {
        return t.device().is_meta();
    }

    /** Tensor options of {@code type} on {@code device}. */
    public static TensorOptions options(ScalarType type, Device device) {
        return new TensorOptions(type).device(new DeviceOptional(device));
    }

    /** {@code torch.zeros(shape, dtype=type, device=device)}. */
    public static Tensor zeros(long[] shape, ScalarType type, Device device) {
        return torch.zeros(shape, options(type, device));
    }

    /** {@code torch.arange(0, end, dtype=type, device=device)}. */
    public static Tensor arange(long end, ScalarType type, Device device) {
        return torch.arange(new Scalar(0), new Scalar(end), options(type, device));
    }

    /** {@code F.conv2d} / {@code F.conv3d} (by the input's rank) with dilation 1 and 1 group; {@code bias} may be null. */
    public static Tensor conv(Tensor x, Tensor weight, Tensor bias, long[] stride, long[] padding) {
        int spatial = stride.length;
        if (isMeta(x)) {
            sameDevice("conv" + spatial + "d", x, weight, bias);
            long[] shape = new long[2 + spatial];
            shape[0] = x.size(0);
            shape[1] = weight.size(0);
            for (int d = 0; d < spatial; d++) {
                shape[2 + d] = (x.size(2 + d) + 2 * padding[d] - weight.size(2 + d)) / stride[d] + 1;
            }
            return empty(shape, x);
        }
        long[] dilation = new long[spatial];
        java.util.Arrays.fill(dilation, 1);
        TensorOptional b = bias == null ? new TensorOptional() : new TensorOptional(bias);
        return spatial == 3 ? torch.conv3d(x, weight, b, stride, padding, dilation, 1)
                : torch.conv2d(x, weight, b, stride, padding, dilation, 1);
    }

    /** {@code F.layer_norm} over the last dim; {@code weight} and {@code bias} may be null. */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        if (isMeta(x)) {
            sameDevice("layer_norm", x, weight, bias);
            return empty(x.sizes().vec().get(), x);
        }
        return torch.layer_norm(x, new long[] {x.size(-1)}, weight == null ? new TensorOptional() : new TensorOptional(weight),
                bias == null ? new TensorOptional() : new TensorOptional(bias), eps, false);
    }

    /**
     * {@code F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)} over (..., L, E);
     * {@code mask} and {@code scale} may be null (no mask, 1/sqrt(E)).
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, Tensor mask, Double scale) {
        if (isMeta(q)) {
            sameDevice("scaled_dot_product_attention", q, k, v, mask);
            long[] shape = q.sizes().vec().get();
            shape[shape.length - 1] = v.size(-1);
            return empty(shape, q);
        }
        return torch.scaled_dot_product_attention(q, k, v, mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0,
                false, scale == null ? new DoubleOptional() : new DoubleOptional(scale), false);
    }

    /** {@code x.index_select(dim, index)}. */
    public static Tensor indexSelect(Tensor x, long dim, Tensor index) {
        if (isMeta(x)) {
            sameDevice("index_select", x, index);
            long[] shape = x.sizes().vec().get();
            shape[(int) (dim < 0 ? dim + shape.length : dim)] = index.numel();
            return empty(shape, x);
        }
        return x.index_select(dim, index);
    }

    /** {@code F.embedding(ids, weight)}: (..., ) ids to (..., D) rows. */
    public static Tensor embedding(Tensor weight, Tensor ids) {
        if (isMeta(weight)) {
            sameDevice("embedding", weight, ids);
            long[] idShape = ids.sizes().vec().get();
            long[] shape = java.util.Arrays.copyOf(idShape, idShape.length + 1);
            shape[idShape.length] = weight.size(1);
            return empty(shape, weight);
        }
        return torch.embedding(weight, ids);
    }

    /** {@code x.abs()}. */
    public static Tensor abs(Tensor x) {
        if (isMeta(x)) {
            return empty(x.sizes().vec().get(), x);
        }
        return x.abs();
    }

    /** {@code torch.where(condition, a, b)} for tensors of one shape (no broadcasting on meta). */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        if (isMeta(a)) {
            sameDevice("where", condition, a, b);
            return empty(a.sizes().vec().get(), a);
        }
        return torch.where(condition, a, b);
    }

    /**
     * Positions (n,) int64 of the non-zero entries of the 1-d {@code mask}, on its device. On meta,
     * where values are unknown, every position (the largest shape).
     */
    public static Tensor nonzeroIndex(Tensor mask) {
        if (isMeta(mask)) {
            return torch.arange(new Scalar(0), new Scalar(mask.size(0)), options(ScalarType.Long, mask.device()));
        }
        return mask.ne(new Scalar(0)).nonzero().reshape(-1);
    }

    /** {@code bool(torch.all(t == 0))}. On meta, where values are unknown, false. */
    public static boolean allZero(Tensor t) {
        if (isMeta(t)) {
            return false;
        }
        return t.eq(new Scalar(0)).all().item().toBool();
    }

    private static Tensor empty(long[] shape, Tensor like) {
        return torch.empty(shape, like.options(), new MemoryFormatOptional());
    }

    /** The check libtorch's kernels make: every tensor argument on the device of the first. */
    private static void sameDevice(String op, Tensor... tensors) {
        List<Tensor> present = new ArrayList<>();
        for (Tensor t : tensors) {
            if (t != null) {
                present.add(t);
            }
        }
        Device first = present.get(0).device();
        for (Tensor t : present) {
            Device d = t.device();
            if (d.type().value != first.type().value || d.index() != first.index()) {
                throw new IllegalStateException("Expected all tensors to be on the same device, but found at least two devices, "
                        + first.str().getString() + " and " + d.str().getString() + "! (" + op + ")");
            }
        }
    }
}
