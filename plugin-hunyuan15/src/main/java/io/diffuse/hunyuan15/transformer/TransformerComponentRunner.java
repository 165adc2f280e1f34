package io.diffuse.hunyuan15.transformer;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.runtime.RuntimeContext;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.pytorch.Tensor;

/**
 * {@code diffuse run-component transformer}: the transformer with tensors named as diffusers'
 * forward arguments (hidden_states, timestep, encoder_hidden_states, encoder_attention_mask,
 * encoder_hidden_states_2, encoder_attention_mask_2, image_embeds, and timestep_r for meanflow
 * models); the output is {@code sample}.
 */
public final class TransformerComponentRunner implements ComponentRunner {
    /** The component name. */
    public static final String NAME = "transformer";
    private static final List<String> INPUTS = List.of("hidden_states", "timestep", "encoder_hidden_states",
            "encoder_attention_mask", "encoder_hidden_states_2", "encoder_attention_mask_2", "image_embeds");

    private final RuntimeContext context;
    private final HunyuanVideo15Transformer3DModel model;
    private final Set<String> required;

    /** Loads the transformer of {@code dir} (a pipeline root or the transformer folder). */
    public TransformerComponentRunner(Path dir, RuntimeContext context) {
        this.context = context;
        try (Checkpoint checkpoint = context.checkpoints().open(dir, NAME)) {
            model = HunyuanVideo15Transformer3DModel.load(checkpoint, context.dtype(), context.device());
        }
        Set<String> names = new LinkedHashSet<>(INPUTS);
        if (model.config().useMeanflow()) {
            names.add("timestep_r");
        }
        required = Set.copyOf(names);
    }

    @Override
    public Set<String> requiredInputs() {
        return required;
    }

    @Override
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Set<String> missing = new TreeSet<>(required);
        missing.removeAll(inputs.keySet());
        Set<String> unexpected = new TreeSet<>(inputs.keySet());
        unexpected.removeAll(required);
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new DiffuseException("transformer inputs do not match: " + (missing.isEmpty() ? "" : "missing " + missing + " ")
                    + (unexpected.isEmpty() ? "" : "unexpected " + unexpected + " ") + "; expected exactly " + new TreeSet<>(required)
                    + " (diffusers' forward argument names)");
        }
        Tensor sample = model.forward(new HunyuanVideo15Transformer3DModel.Inputs(inputs.get("hidden_states"), inputs.get("timestep"),
                inputs.get("encoder_hidden_states"), inputs.get("encoder_attention_mask"), inputs.get("encoder_hidden_states_2"),
                inputs.get("encoder_attention_mask_2"), inputs.get("image_embeds"), inputs.get("timestep_r")), context.attention());
        return Map.of("sample", sample);
    }

    @Override
    public void close() {
        model.close();
    }
}
