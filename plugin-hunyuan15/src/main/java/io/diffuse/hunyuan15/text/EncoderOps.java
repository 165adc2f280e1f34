package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.runtime.DeviceOps;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/** torch.nn.functional building blocks and config.json readers shared by the encoders. */
public final class EncoderOps {
    private EncoderOps() {
    }

    /** x W^T (+ b); {@code bias} may be null. */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        return io.diffuse.api.runtime.Linear.linear(x, weight, bias);
    }

    /** LayerNorm over the last dim with affine weight and bias. */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return DeviceOps.layerNorm(x, weight, bias, eps);
    }

    /**
     * RMS norm as Qwen2RMSNorm / T5LayerNorm do it: mean of squares in fp32 (no mean subtraction),
     * cast back to the input dtype, then times the weight.
     */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor xf = x.to(ScalarType.Float);
        Tensor variance = xf.pow(new Scalar(2)).mean(new long[] {-1}, true, new ScalarTypeOptional());
        return weight.mul(xf.mul(torch.rsqrt(variance.add(new Scalar(eps)))).to(x.scalar_type()));
    }

    static int intOf(Map<String, Object> config, String key, String file) {
        Object v = config.get(key);
        if (!(v instanceof Number n)) {
            throw new DiffuseException(file + ": config key '" + key + "' must be a number, found " + v
                    + "; check that this folder holds the expected model");
        }
        return n.intValue();
    }

    static int intOr(Map<String, Object> config, String key, int dflt) {
        return config.get(key) instanceof Number n ? n.intValue() : dflt;
    }

    static double doubleOr(Map<String, Object> config, String key, double dflt) {
        return config.get(key) instanceof Number n ? n.doubleValue() : dflt;
    }

    static String stringOr(Map<String, Object> config, String key, String dflt) {
        return config.get(key) instanceof String s ? s : dflt;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> mapOr(Map<String, Object> config, String key) {
        return config.get(key) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    @SuppressWarnings("unchecked")
    static List<Object> listOr(Map<String, Object> config, String key) {
        return config.get(key) instanceof List<?> l ? (List<Object>) l : List.of();
    }

    /** The key prefix in front of {@code marker} in the checkpoint (e.g. "model." or ""), or "" if absent. */
    static String prefixOf(java.util.Set<String> keys, String marker, String... candidates) {
        for (String c : candidates) {
            if (keys.contains(c + marker)) {
                return c;
            }
        }
        throw new DiffuseException("checkpoint has no tensor '" + marker + "' (tried prefixes " + List.of(candidates)
                + "); is this the right component folder?");
    }
}
