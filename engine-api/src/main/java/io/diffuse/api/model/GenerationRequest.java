package io.diffuse.api.model;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.Tensor;

/**
 * One text-to-video or image-to-video request. Unset optional values take the pipeline's defaults
 * (for example the flow shift from the model's scheduler config).
 *
 * @param promptEmbeds precomputed embeddings named as the reference pipeline's arguments
 *        (prompt_embeds, prompt_embeds_mask, ...); empty to encode {@code prompt} natively
 */
public record GenerationRequest(
        Task task,
        String prompt,
        String negativePrompt,
        Optional<Path> image,
        Optional<Integer> height,
        Optional<Integer> width,
        int numFrames,
        int numInferenceSteps,
        double guidanceScale,
        Optional<Double> flowShift,
        long seed,
        Map<String, Tensor> promptEmbeds) {
}
