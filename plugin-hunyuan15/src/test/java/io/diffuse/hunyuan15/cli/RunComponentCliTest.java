package io.diffuse.hunyuan15.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.cli.Cli;
import io.diffuse.core.cli.CliEnvironment;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code diffuse run-component} end to end through the real CLI, on diffusers fixtures the model
 * tests never load ("unseen": other seed, shapes and widths). Tolerance 1e-4: fp32 against diffusers
 * in fp32 on the same bf16-rounded weights; the differences are summation order only.
 */
class RunComponentCliTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Cli.create(new CliEnvironment(new ServiceLoaderRegistry(), Map.of(), Optional.empty()));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(RunComponentCliTest.class.getResource("/fixtures/" + name).toURI());
    }

    private static float maxAbsDiff(Path produced, String producedName, Path expected, String expectedName) {
        DiffusersCheckpointLoader io = new DiffusersCheckpointLoader();
        try (PointerScope scope = new PointerScope()) {
            Tensor a = io.readTensors(produced).get(producedName);
            Tensor b = io.readTensors(expected).get(expectedName);
            assertEquals(java.util.Arrays.toString(b.sizes().vec().get()), java.util.Arrays.toString(a.sizes().vec().get()));
            return a.sub(b).abs().max().item_float();
        }
    }

    /** The fixture's inputs without diffusers' output: run-component takes forward arguments only. */
    private Path forwardArguments(Path fixture, String output) {
        DiffusersCheckpointLoader io = new DiffusersCheckpointLoader();
        Path in = tmp.resolve("in-" + fixture.getFileName());
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new java.util.TreeMap<>(io.readTensors(fixture));
            tensors.remove(output);
            io.writeTensors(in, tensors);
        }
        return in;
    }

    @Test
    void transformerReproducesDiffusersOnAnUnseenModel() throws Exception {
        Path expected = fixture("transformer/unseen/i2v.safetensors");
        Path outFile = tmp.resolve("out.safetensors");
        int code = run("run-component", "transformer", "--model", fixture("transformer/unseen").toString(),
                "--inputs", forwardArguments(expected, "sample").toString(), "--output", outFile.toString());
        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("sample"), out.toString());
        float diff = maxAbsDiff(outFile, "sample", expected, "sample");
        assertTrue(diff <= 1e-4f, "max abs error " + diff);
    }

    @Test
    void vaeDecodeTiledAndUntiledReproduceDiffusersOnAnUnseenModel() throws Exception {
        Path root = fixture("vae-unseen");
        Path untiled = tmp.resolve("decode.safetensors");
        assertEquals(0, run("run-component", "vae-decode", "--model", root.toString(),
                "--inputs", root.resolve("decode.safetensors").toString(), "--output", untiled.toString()), err.toString());
        float d1 = maxAbsDiff(untiled, "sample", root.resolve("decode.safetensors"), "sample");
        assertTrue(d1 <= 1e-4f, "untiled max abs error " + d1);

        Path tiled = tmp.resolve("decode_tiled.safetensors");
        assertEquals(0, run("run-component", "vae-decode", "--model", root.toString(), "--tiling", "--tile-size", "32",
                "--tile-overlap", "0.5", "--inputs", root.resolve("decode_tiled_32_0.5.safetensors").toString(),
                "--output", tiled.toString()), err.toString());
        float d2 = maxAbsDiff(tiled, "sample", root.resolve("decode_tiled_32_0.5.safetensors"), "sample");
        assertTrue(d2 <= 1e-4f, "tiled max abs error " + d2);
    }

    @Test
    void vaeEncodeReproducesDiffusersOnAnUnseenModel() throws Exception {
        Path root = fixture("vae-unseen");
        Path outFile = tmp.resolve("encode.safetensors");
        assertEquals(0, run("run-component", "vae-encode", "--model", root.toString(), "--tiling", "--tile-size", "32",
                "--tile-overlap", "0.5", "--inputs", root.resolve("encode_tiled_32_0.5.safetensors").toString(),
                "--output", outFile.toString()), err.toString());
        float d = maxAbsDiff(outFile, "latent", root.resolve("encode_tiled_32_0.5.safetensors"), "latent");
        assertTrue(d <= 1e-4f, "max abs error " + d);
    }

    @Test
    void unknownComponentIsAClearErrorAndWritesNothing() throws Exception {
        Path outFile = tmp.resolve("out.safetensors");
        int code = run("run-component", "text-encoder", "--model", fixture("transformer/unseen").toString(),
                "--inputs", fixture("transformer/unseen/i2v.safetensors").toString(), "--output", outFile.toString());
        assertEquals(1, code);
        assertTrue(err.toString().contains("unknown component 'text-encoder'") && err.toString().contains("transformer"),
                err.toString());
        assertFalse(Files.exists(outFile));
    }

    @Test
    void missingInputTensorIsNamed() throws Exception {
        Path outFile = tmp.resolve("out.safetensors");
        int code = run("run-component", "transformer", "--model", fixture("transformer/unseen").toString(),
                "--inputs", fixture("vae-unseen/decode.safetensors").toString(), "--output", outFile.toString());
        assertEquals(1, code);
        assertTrue(err.toString().contains("lacks") && err.toString().contains("hidden_states"), err.toString());
        assertFalse(Files.exists(outFile));
    }

    @Test
    void folderNoProviderRecognisesIsAClearError() {
        int code = run("run-component", "transformer", "--model", tmp.toString(), "--inputs", tmp.toString(),
                "--output", tmp.resolve("o").toString());
        assertEquals(1, code);
        assertTrue(err.toString().contains("--inputs"), err.toString());
    }
}
