package io.diffuse.core.distributed;

import io.diffuse.core.config.EngineSettings;
import org.bytedeco.pytorch.Context;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scaled-dot-product-attention backend of this process (one rank), from
 * {@code diffuse.attention.backend}. libtorch keeps the allowed SDPA backends in its global context
 * and {@code scaled_dot_product_attention} picks among the allowed ones on every call, so setting
 * them once per rank covers every attention call of the engine and of plugins, as
 * {@code torch.nn.attention.sdpa_kernel} does in Python. {@code auto} allows all of them (libtorch's
 * default); a named backend is the only one allowed.
 */
public final class AttentionBackend {
    private static final Logger LOG = LoggerFactory.getLogger(AttentionBackend.class);

    private AttentionBackend() {
    }

    /** Allows exactly the SDPA backends of {@code backend} (one of {@link EngineSettings.Attention#BACKENDS}). */
    public static void apply(String backend) {
        if (!EngineSettings.Attention.BACKENDS.contains(backend)) {
            throw new IllegalArgumentException("unknown attention backend " + backend);
        }
        boolean auto = backend.equals("auto");
        Context context = torch.globalContext();
        context.setSDPUseFlash(auto || backend.equals("flash"));
        context.setSDPUseMemEfficient(auto || backend.equals("efficient"));
        context.setSDPUseCuDNN(auto || backend.equals("cudnn"));
        context.setSDPUseMath(auto || backend.equals("math"));
        LOG.debug("attention backend {}", backend);
    }
}
