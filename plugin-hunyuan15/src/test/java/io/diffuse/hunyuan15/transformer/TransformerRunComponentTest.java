package io.diffuse.hunyuan15.transformer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.ModelSource;
import io.diffuse.api.runtime.DType;
import io.diffuse.hunyuan15.HunyuanVideo15ModelProvider;
import io.diffuse.testkit.SingleRankContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run-component path end to end on a model no other test uses ("unseen": another seed, 2 heads
 * of 24, one block, its own text widths), as a pipeline root: inputs file -> provider -> runner ->
 * output file, compared with diffusers within 1e-4 (fp32, bf16-exact weights; see the golden test).
 */
class TransformerRunComponentTest {
    @TempDir
    Path tmp;

    private final ModelProvider provider = new HunyuanVideo15ModelProvider();
    private final SingleRankContext ctx = new SingleRankContext(DType.FP32);

    @Test
    void reproducesDiffusersOnAnUnseenModel() {
        Path root = HunyuanVideo15TransformerGoldenTest.fixtures().resolve("unseen");
        assertTrue(provider.recognize(root) == ModelProvider.CERTAIN);
        Path out = tmp.resolve("out.safetensors");
        try (PointerScope scope = new PointerScope();
                ComponentRunner runner = provider.component("transformer", root, ctx)) {
            Map<String, Tensor> file = ctx.checkpoints().readTensors(root.resolve("i2v.safetensors"));
            Map<String, Tensor> inputs = new HashMap<>(file);
            Tensor expected = inputs.remove("sample");
            assertEquals(inputs.keySet(), runner.requiredInputs());
            ctx.checkpoints().writeTensors(out, runner.run(inputs));
            Map<String, Tensor> written = ctx.checkpoints().readTensors(out);
            assertEquals(Set.of("sample"), written.keySet());
            double err = HunyuanVideo15TransformerGoldenTest.maxAbsDiff(written.get("sample"), expected);
            System.out.printf("run-component unseen i2v: max abs error %.3g%n", err);
            assertTrue(err <= HunyuanVideo15TransformerGoldenTest.FP32_TOLERANCE, "max abs error " + err);
        }
    }

    @Test
    void configThatDoesNotFitTheWeightsIsRefusedByName() throws IOException {
        Path src = HunyuanVideo15TransformerGoldenTest.fixtures().resolve("meanflow");
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("transformer"));
        java.nio.file.Files.copy(src.resolve("diffusion_pytorch_model.safetensors"), dir.resolve("diffusion_pytorch_model.safetensors"));
        String config = java.nio.file.Files.readString(src.resolve("config.json"));
        java.nio.file.Files.writeString(dir.resolve("config.json"), config.replaceFirst("\"num_layers\": 3", "\"num_layers\": 4")
                .replaceFirst("\"use_meanflow\": true", "\"use_meanflow\": false"));
        DiffuseException e = assertThrows(DiffuseException.class, () -> provider.component("transformer", dir, ctx));
        assertTrue(e.getMessage().contains("'transformer_blocks.3.attn.to_q.weight'")
                && e.getMessage().contains("'time_embed.timestep_embedder_r.linear_1.weight' in diffusion_pytorch_model.safetensors"),
                e.getMessage());
    }

    @Test
    void namesMissingAndUnexpectedInputs() {
        Path root = HunyuanVideo15TransformerGoldenTest.fixtures().resolve("meanflow");
        try (PointerScope scope = new PointerScope();
                ComponentRunner runner = provider.component("transformer", root, ctx)) {
            assertTrue(runner.requiredInputs().contains("timestep_r"), "meanflow models need timestep_r");
            Map<String, Tensor> inputs = new HashMap<>(ctx.checkpoints().readTensors(root.resolve("meanflow_t2v.safetensors")));
            inputs.remove("timestep_r");
            DiffuseException e = assertThrows(DiffuseException.class, () -> runner.run(inputs));
            assertTrue(e.getMessage().contains("missing [timestep_r]") && e.getMessage().contains("unexpected [sample]"), e.getMessage());
        }
    }

    @Test
    void providerIsListedAndRefusesUnknownComponentsAndPipelines() throws IOException {
        try (InputStream in = HunyuanVideo15ModelProvider.class.getClassLoader()
                .getResourceAsStream("META-INF/services/io.diffuse.api.model.ModelProvider")) {
            assertTrue(new String(in.readAllBytes(), StandardCharsets.UTF_8).contains(HunyuanVideo15ModelProvider.class.getName()));
        }
        assertEquals("hunyuanvideo-1.5", provider.family());
        assertTrue(provider.components().contains("transformer"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> provider.component("unet", tmp, ctx));
        assertTrue(e.getMessage().contains("'unet'") && e.getMessage().contains("transformer"), e.getMessage());
        assertThrows(DiffuseException.class, () -> provider.load(ModelSource.directory(tmp), ctx));
        assertTrue(provider.recognize(tmp) == ModelProvider.NOT_MINE);
        DiffuseException none = assertThrows(DiffuseException.class, () -> provider.component("transformer", tmp, ctx));
        assertTrue(none.getMessage().contains(tmp.toString()), none.getMessage());
    }
}
