package io.diffuse.hunyuan15.vae;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.DType;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Java side of the VAE decode benchmark (tools/bench/vae_decode_bench.sh, docs/benchmarks.md):
 * decodes the latent diffusers decoded, untiled in fp32 on CPU, and prints the time (best of
 * {@code repeat} after one warm-up), the peak RSS growth during decoding (VmHWM after minus VmRSS
 * before the first decode) and the max abs difference from diffusers' output.
 *
 * <p>Usage: {@code VaeDecodeBenchmark <vae folder> <bench.safetensors> [repeat]}
 */
public final class VaeDecodeBenchmark {
    private VaeDecodeBenchmark() {
    }

    static long statusKb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException(field);
    }

    public static void main(String[] args) throws IOException {
        CheckpointLoader loader = new DiffusersCheckpointLoader();
        int repeat = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        AutoencoderKLHunyuanVideo15 vae;
        try (Checkpoint checkpoint = loader.open(Path.of(args[0]), "vae")) {
            vae = AutoencoderKLHunyuanVideo15.load(checkpoint, DType.FP32, null);
        }
        try (PointerScope outer = new PointerScope()) {
            Map<String, Tensor> io = loader.readTensors(Path.of(args[1]));
            Tensor latent = io.get("latent");
            Tensor expected = io.get("sample");
            long rssBefore = statusKb("VmRSS");
            double best = Double.MAX_VALUE;
            double warmup = 0;
            double err = 0;
            for (int i = 0; i < 1 + repeat; i++) {
                try (PointerScope scope = new PointerScope()) {
                    long t0 = System.nanoTime();
                    Tensor sample = vae.decodeTile(latent);
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (i == 0) {
                        warmup = s;
                        err = VaeFixtures.maxAbsDiff(sample, expected);
                    } else {
                        best = Math.min(best, s);
                    }
                }
            }
            long peak = statusKb("VmHWM");
            if (repeat == 0) {
                best = warmup;
            }
            long sTokens = latent.size(2) * latent.size(3) * latent.size(4);
            System.out.printf("java decode latent (%d, %d, %d, %d, %d) (mid-block S=%d): warm-up %.2f s, best %.2f s, "
                    + "peak RSS growth %.2f GiB (VmHWM %.2f GiB), max abs diff vs diffusers %.3g%n",
                    latent.size(0), latent.size(1), latent.size(2), latent.size(3), latent.size(4), sTokens, warmup, best,
                    (peak - rssBefore) / (double) (1 << 20), peak / (double) (1 << 20), err);
        }
        vae.close();
    }
}
