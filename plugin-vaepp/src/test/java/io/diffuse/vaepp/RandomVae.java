package io.diffuse.vaepp;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import io.diffuse.hunyuan15.vae.AutoencoderKLHunyuanVideo15;
import io.diffuse.hunyuan15.vae.HunyuanVideo15VaeConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * The real HunyuanVideo 1.5 VAE with tiny channels and seeded random weights, built in memory: a
 * {@link Checkpoint} whose tensors are drawn from a seeded normal distribution at load time
 * (convolutions scaled by 1/sqrt(fan-in), norm gains near 1), so activations stay in range.
 */
final class RandomVae {
    private RandomVae() {
    }

    /** A config.json for a VAE with the given spatial compression (8 or 16) and tiny channels. */
    static Map<String, Object> config(int spatialCompression, int width) {
        int levels = Integer.numberOfTrailingZeros(spatialCompression) + 1;
        Object[] channels = new Object[levels];
        Arrays.fill(channels, width);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("in_channels", 3);
        c.put("out_channels", 3);
        c.put("latent_channels", 4);
        c.put("block_out_channels", Arrays.asList(channels));
        c.put("layers_per_block", 1);
        c.put("spatial_compression_ratio", spatialCompression);
        c.put("temporal_compression_ratio", 4);
        c.put("downsample_match_channel", true);
        c.put("upsample_match_channel", true);
        c.put("scaling_factor", 1.0);
        return c;
    }

    /** Builds the VAE of {@code config} with weights drawn from {@code seed}. */
    static AutoencoderKLHunyuanVideo15 create(Map<String, Object> config, long seed) {
        return AutoencoderKLHunyuanVideo15.load(new RandomCheckpoint(config, seed), DType.FP32, null);
    }

    /** An in-memory checkpoint of random tensors with exactly the keys and shapes the model expects. */
    private static final class RandomCheckpoint implements Checkpoint {
        private final Map<String, Object> config;
        private final Map<String, long[]> shapes;
        private final long seed;

        RandomCheckpoint(Map<String, Object> config, long seed) {
            this.config = config;
            this.shapes = AutoencoderKLHunyuanVideo15.expectedKeys(HunyuanVideo15VaeConfig.fromJson(config));
            this.seed = seed;
        }

        @Override
        public Path directory() {
            return Path.of("random-vae-" + seed);
        }

        @Override
        public Map<String, Object> config() {
            return config;
        }

        @Override
        public Set<String> keys() {
            return shapes.keySet();
        }

        @Override
        public long[] shape(String key) {
            long[] s = shapes.get(key);
            if (s == null) {
                throw new DiffuseException("no tensor " + key + " in " + directory());
            }
            return s.clone();
        }

        @Override
        public Tensor load(String key, DType dtype) {
            long[] s = shape(key);
            // Seeded per key, so the weights do not depend on the load order.
            manual_seed(seed * 1_000_003L + key.hashCode());
            PointerScope outer = PointerScope.getInnerScope();
            Tensor t;
            try (PointerScope scope = new PointerScope()) {
                if (s.length == 1 && key.endsWith("weight")) {
                    t = randn(s).mul(new Scalar(0.1)).add(new Scalar(1.0)); // norm gain
                } else if (s.length == 1) {
                    t = randn(s).mul(new Scalar(0.02)); // bias
                } else {
                    long fanIn = 1;
                    for (int d = 1; d < s.length; d++) {
                        fanIn *= s[d];
                    }
                    t = randn(s).mul(new Scalar(1.0 / Math.sqrt(fanIn)));
                }
                if (outer != null) {
                    outer.attach(t);
                } else {
                    t.retainReference();
                }
            }
            return t;
        }

        @Override
        public void verify(Map<String, long[]> expected) {
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                if (!Arrays.equals(shapes.get(e.getKey()), e.getValue())) {
                    throw new DiffuseException("random checkpoint: " + e.getKey() + " has shape "
                            + Arrays.toString(shapes.get(e.getKey())) + ", expected " + Arrays.toString(e.getValue()));
                }
            }
        }

        @Override
        public void close() {
        }
    }
}
