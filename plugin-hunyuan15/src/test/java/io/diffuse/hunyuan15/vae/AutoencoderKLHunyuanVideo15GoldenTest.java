package io.diffuse.hunyuan15.vae;

import static io.diffuse.hunyuan15.vae.VaeFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.core.local.TiledVaeExecutor;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Golden parity with diffusers' AutoencoderKLHunyuanVideo15 on the tiny 5-level VAE of
 * tools/reference/gen_vae.py. Tolerance: max abs error 1e-4 in fp32. Outputs are O(1); the port runs
 * the same fp32 ops except the mid-block attention (per-frame softmax instead of a masked one over
 * all keys) and possibly different conv kernels between libtorch builds, which move results by
 * float rounding (about 1e-6), far below 1e-4, while any wrong index, padding or blend is O(0.1).
 */
class AutoencoderKLHunyuanVideo15GoldenTest {
    private static final double TOLERANCE = 1e-4;
    private static CheckpointLoader loader;
    private static AutoencoderKLHunyuanVideo15 vae;
    private final VaeExecutor local = new LocalVaeExecutor();
    private final VaeExecutor tiled = new TiledVaeExecutor();
    private PointerScope scope;

    @BeforeAll
    static void load() {
        loader = VaeFixtures.loader();
        try (Checkpoint checkpoint = loader.open(VaeFixtures.VAE.resolve("model"), "vae")) {
            vae = AutoencoderKLHunyuanVideo15.load(checkpoint, DType.FP32, null);
        }
    }

    @AfterAll
    static void release() {
        vae.close();
    }

    @BeforeEach
    void open() {
        scope = new PointerScope();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    /** Runs one fixture through {@code executor} with the fixture's tiling; returns the max abs error. */
    private double run(String caseName, VaeExecutor executor) {
        Map<String, Tensor> t = loader.readTensors(VaeFixtures.VAE.resolve(caseName));
        VaeRun run = new VaeRun(VaeFixtures.tilingOf(caseName), null, true);
        boolean encode = caseName.startsWith("encode");
        Tensor out = encode ? executor.encode(vae, t.get("sample"), run) : executor.decode(vae, t.get("latent"), run);
        return maxAbsDiff(out, t.get(encode ? "latent" : "sample"));
    }

    private void assertParity(String caseName, VaeExecutor executor) {
        double err = run(caseName, executor);
        System.out.printf("%s via %s: max abs error %.3g%n", caseName, executor.name(), err);
        assertTrue(err <= TOLERANCE, caseName + " via " + executor.name() + ": max abs error " + err);
    }

    @Test
    void encodeUntiled() {
        assertParity("encode.safetensors", local);
    }

    @Test
    void encodeMomentsIncludeLogVariance() {
        Map<String, Tensor> t = loader.readTensors(VaeFixtures.VAE.resolve("encode.safetensors"));
        double err = maxAbsDiff(vae.encodeMoments(t.get("sample")), t.get("moments"));
        assertTrue(err <= TOLERANCE, "moments: max abs error " + err);
    }

    @Test
    void decodeUntiled() {
        assertParity("decode.safetensors", local);
    }

    @Test
    void frameChunkedConvolutionsKeepParity() {
        // force every causal conv to run one or two frames at a time (the large-input path)
        long saved = AutoencoderKLHunyuanVideo15.convChunkElements;
        AutoencoderKLHunyuanVideo15.convChunkElements = 4096;
        try {
            assertParity("decode.safetensors", local);
            assertParity("encode.safetensors", local);
        } finally {
            AutoencoderKLHunyuanVideo15.convChunkElements = saved;
        }
    }

    @Test
    void encodeImage() {
        assertParity("encode_image.safetensors", local);
    }

    @Test
    void decodeImage() {
        assertParity("decode_image.safetensors", local);
    }

    @Test
    void tiledExecutorFallsBackToUntiledWhenInputFitsOneTile() {
        // 48x48 px and 3x3 latents are within one 256 px tile: diffusers does not tile
        Map<String, Tensor> e = loader.readTensors(VaeFixtures.VAE.resolve("encode.safetensors"));
        Tensor out = tiled.encode(vae, e.get("sample"), new VaeRun(TilingSettings.defaults(true), null, true));
        assertTrue(maxAbsDiff(out, e.get("latent")) <= TOLERANCE);
        Map<String, Tensor> d = loader.readTensors(VaeFixtures.VAE.resolve("decode.safetensors"));
        out = tiled.decode(vae, d.get("latent"), new VaeRun(TilingSettings.defaults(true), null, true));
        assertTrue(maxAbsDiff(out, d.get("sample")) <= TOLERANCE);
    }

    @Test
    void encodeTiled64Overlap025() {
        assertParity("encode_tiled_64_0.25.safetensors", tiled);
    }

    @Test
    void decodeTiled64Overlap025() {
        assertParity("decode_tiled_64_0.25.safetensors", tiled);
    }

    @Test
    void encodeTiled32Overlap05() {
        assertParity("encode_tiled_32_0.5.safetensors", tiled);
    }

    @Test
    void decodeTiled32Overlap05() {
        assertParity("decode_tiled_32_0.5.safetensors", tiled);
    }

    @Test
    void tiledFixturesDifferFromUntiledResults() {
        // the tiled cases would catch an executor that silently ignored tiling
        for (String c : new String[] {"encode_tiled_32_0.5.safetensors", "decode_tiled_32_0.5.safetensors"}) {
            assertTrue(run(c, local) > 100 * TOLERANCE, c + " is indistinguishable from an untiled run");
        }
    }

    @Test
    void tileSizeBreakingCompressionIsAClearError() {
        Map<String, Tensor> d = loader.readTensors(VaeFixtures.VAE.resolve("decode_tiled_64_0.25.safetensors"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tiled.decode(vae,
                d.get("latent"), new VaeRun(new TilingSettings(true, 40, 0.25), null, true)));
        assertTrue(e.getMessage().contains("40 px is not a multiple of the spatial compression 16"), e.getMessage());
    }

    @Test
    void overlapBreakingLatentGridIsAClearError() {
        Map<String, Tensor> s = loader.readTensors(VaeFixtures.VAE.resolve("encode_tiled_64_0.25.safetensors"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tiled.encode(vae,
                s.get("sample"), new VaeRun(new TilingSettings(true, 64, 0.2), null, true)));
        assertTrue(e.getMessage().contains("breaks the latent grid"), e.getMessage());
    }

    @Test
    void badFrameCountThroughExecutorIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> local.encode(vae,
                org.bytedeco.pytorch.global.torch.zeros(1, 3, 4, 32, 32), new VaeRun(TilingSettings.defaults(false), null, true)));
        assertTrue(e.getMessage().contains("4 frames"), e.getMessage());
    }

    @Test
    void nativeMemoryStaysFlatAcrossDecodes() throws java.io.IOException {
        // Each decode allocates tens of MB of intermediates; leaking them would grow RSS by far more
        // than the 24 MB allowed over 4 decodes (allocator noise is a few MB).
        Tensor latent = loader.readTensors(VaeFixtures.VAE.resolve("decode.safetensors")).get("latent");
        decodeInOwnScope(latent);
        long before = VaeDecodeBenchmark.statusKb("VmRSS");
        for (int i = 0; i < 4; i++) {
            decodeInOwnScope(latent);
        }
        long growthKb = VaeDecodeBenchmark.statusKb("VmRSS") - before;
        assertTrue(growthKb < 24 * 1024, "RSS grew by " + growthKb / 1024 + " MB over 4 decodes");
    }

    private static void decodeInOwnScope(Tensor latent) {
        try (PointerScope s = new PointerScope()) {
            vae.decodeTile(latent);
        }
    }

    @Test
    void configComesFromConfigJson() {
        assertEquals(4, vae.latentChannels());
        assertEquals(16, vae.spatialCompression());
        assertEquals(1.03682, vae.scalingFactor(), 0);
    }
}
