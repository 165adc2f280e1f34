package io.diffuse.usp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.runtime.DType;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15Transformer3DModel;
import io.diffuse.testkit.SingleRankContext;
import io.diffuse.testkit.ThreadRanks;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The HunyuanVideo 1.5 transformer (plugin-hunyuan15's diffusers fixtures: 4 heads) under every plan
 * equals its single-rank ("local" strategy) output within 1e-5 in fp32, on every rank. T2V and I2V
 * have 48 video tokens (divisible by 2, 3, 4), odd_tokens 30 (not divisible by 4) and meanflow 6
 * (fewer than 2 per rank on 4 ranks: a wholly padded shard); the Qwen and ByT5 masks pad text keys.
 * Ulysses 3 is impossible with 4 heads, so 3 ranks run Ring. Outputs are O(1); 1e-5 allows only
 * summation-order differences.
 */
class TransformerPlansTest {
    private static final double TOLERANCE = 1e-5;
    private static final Path FIXTURES = Path.of("..", "plugin-hunyuan15", "src", "test", "resources", "fixtures",
            "transformer");
    private static final SingleRankContext LOCAL = new SingleRankContext(DType.FP32);
    private static HunyuanVideo15Transformer3DModel tiny;
    private static HunyuanVideo15Transformer3DModel meanflow;

    /** One fixture input and the single-rank output. */
    record Case(String name, HunyuanVideo15Transformer3DModel model, HunyuanVideo15Transformer3DModel.Inputs inputs,
            Tensor expected) {
    }

    private static final List<Case> CASES = new ArrayList<>();

    @BeforeAll
    static void loadModelsAndReferences() {
        tiny = load(FIXTURES.resolve("tiny"));
        meanflow = load(FIXTURES.resolve("meanflow"));
        for (String file : List.of("t2v", "i2v", "odd_tokens")) {
            CASES.add(reference("tiny " + file, tiny, FIXTURES.resolve("tiny").resolve(file + ".safetensors")));
        }
        for (String file : List.of("meanflow_t2v", "meanflow_i2v")) {
            CASES.add(reference(file, meanflow, FIXTURES.resolve("meanflow").resolve(file + ".safetensors")));
        }
    }

    @AfterAll
    static void closeModels() {
        tiny.close();
        meanflow.close();
    }

    private static HunyuanVideo15Transformer3DModel load(Path dir) {
        try (Checkpoint c = LOCAL.checkpoints().open(dir, "transformer")) {
            return HunyuanVideo15Transformer3DModel.load(c, LOCAL.dtype(), LOCAL.device());
        }
    }

    private static Case reference(String name, HunyuanVideo15Transformer3DModel model, Path file) {
        Map<String, Tensor> t = LOCAL.checkpoints().readTensors(file);
        t.values().forEach(Tensor::retainReference);
        HunyuanVideo15Transformer3DModel.Inputs inputs = new HunyuanVideo15Transformer3DModel.Inputs(
                t.get("hidden_states"), t.get("timestep"), t.get("encoder_hidden_states"), t.get("encoder_attention_mask"),
                t.get("encoder_hidden_states_2"), t.get("encoder_attention_mask_2"), t.get("image_embeds"),
                t.get("timestep_r"));
        Tensor expected = model.forward(inputs, LOCAL.attention());
        expected.retainReference();
        return new Case(name, model, inputs, expected);
    }

    @ParameterizedTest(name = "{0}: ulysses {1} x ring {2}")
    @CsvSource({"ulysses,2,1", "ring,1,2", "usp,2,2", "ulysses,4,1", "ring,1,4", "ring,1,3"})
    void everyPlanMatchesSingleRank(String strategyName, int ulysses, int ring) {
        ParallelStrategy strategy = Strategies.byName(strategyName);
        ParallelPlan plan = new ParallelPlan(ulysses * ring, ulysses, ring, 1, 1);
        strategy.validate(plan, tiny.config().numAttentionHeads());
        ThreadRanks.run(plan, groups -> {
            for (Case c : CASES) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor out = c.model().forward(c.inputs(), strategy.create(groups));
                    double diff = out.sub(c.expected()).abs().max().item_double();
                    assertTrue(diff <= TOLERANCE, c.name() + " on rank " + groups.world().rank() + ": max |difference| "
                            + diff + " exceeds " + TOLERANCE);
                }
            }
            return Boolean.TRUE;
        });
    }
}
