package io.diffuse.hunyuan15.vae;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.VaeExecutor;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;

/**
 * The "vae-encode" and "vae-decode" components of {@code diffuse run-component}: the HunyuanVideo
 * 1.5 VAE run through the configured {@link VaeExecutor} (so tiling and VAE parallelism come from
 * configuration). vae-encode reads {@code sample} (B, 3, T, H, W) in [-1, 1] and writes
 * {@code latent}, the posterior mode before the scaling factor; vae-decode reads unscaled
 * {@code latent} and writes {@code sample}.
 */
public final class VaeComponentRunner implements ComponentRunner {
    /** Component name of the encoder runner. */
    public static final String ENCODE = "vae-encode";
    /** Component name of the decoder runner. */
    public static final String DECODE = "vae-decode";

    private final boolean encode;
    private final AutoencoderKLHunyuanVideo15 vae;
    private final RuntimeContext context;

    private VaeComponentRunner(boolean encode, AutoencoderKLHunyuanVideo15 vae, RuntimeContext context) {
        this.encode = encode;
        this.vae = vae;
        this.context = context;
    }

    /**
     * Loads the VAE of {@code dir} (a pipeline root with a {@code vae/} folder, or the vae folder
     * itself) for component {@code name}.
     *
     * @throws IllegalArgumentException for a name other than vae-encode or vae-decode
     */
    public static VaeComponentRunner open(String name, Path dir, RuntimeContext context) {
        boolean encode;
        if (ENCODE.equals(name)) {
            encode = true;
        } else if (DECODE.equals(name)) {
            encode = false;
        } else {
            throw new IllegalArgumentException("unknown VAE component '" + name + "'; use " + ENCODE + " or " + DECODE);
        }
        try (Checkpoint checkpoint = context.checkpoints().open(dir, "vae")) {
            return new VaeComponentRunner(encode,
                    AutoencoderKLHunyuanVideo15.load(checkpoint, context.dtype(), context.device()), context);
        }
    }

    /** The loaded VAE. */
    public AutoencoderKLHunyuanVideo15 vae() {
        return vae;
    }

    @Override
    public Set<String> requiredInputs() {
        return Set.of(inputName());
    }

    @Override
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Tensor x = inputs.get(inputName());
        if (x == null) {
            throw new DiffuseException((encode ? ENCODE : DECODE) + " needs an input tensor named '" + inputName()
                    + "'; the inputs file has " + inputs.keySet());
        }
        VaeExecutor executor = context.vaeExecutor();
        try {
            Tensor onDevice = x.to(context.device(), context.dtype().scalarType());
            Tensor out = encode ? executor.encode(vae, onDevice, context.vaeRun())
                    : executor.decode(vae, onDevice, context.vaeRun());
            return Map.of(encode ? "latent" : "sample", out);
        } catch (IllegalArgumentException e) {
            throw new DiffuseException(e.getMessage(), e);
        }
    }

    private String inputName() {
        return encode ? "sample" : "latent";
    }

    @Override
    public void close() {
        vae.close();
    }
}
