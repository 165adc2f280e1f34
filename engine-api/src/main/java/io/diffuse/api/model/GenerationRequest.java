package io.diffuse.api.model;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.bytedeco.pytorch.Tensor;

/**
 * One text-to-video or image-to-video request. Unset optional values take the pipeline's defaults
 * (for example the flow shift from the model's scheduler config). Build one with {@link #builder()}
 * (defaults as {@code diffuse.generate.*} in engine-core's reference.conf) or change one with
 * {@link #toBuilder()}.
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

    /**
     * A builder with the command line's defaults: empty prompts, no image (text-to-video), the
     * pipeline's size and flow shift, 121 frames, 50 steps, guidance 6.0, seed 0, no embeddings.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this request's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompt = prompt;
        b.negativePrompt = negativePrompt;
        b.image = image;
        b.height = height;
        b.width = width;
        b.numFrames = numFrames;
        b.numInferenceSteps = numInferenceSteps;
        b.guidanceScale = guidanceScale;
        b.flowShift = flowShift;
        b.seed = seed;
        b.promptEmbeds = promptEmbeds;
        return b;
    }

    /**
     * Builds a {@link GenerationRequest}; the task follows from the image (set: image-to-video). {@link #build}
     * rejects values no pipeline can run, one {@link IllegalArgumentException} naming the field.
     */
    public static final class Builder {
        private String prompt = "";
        private String negativePrompt = "";
        private Optional<Path> image = Optional.empty();
        private Optional<Integer> height = Optional.empty();
        private Optional<Integer> width = Optional.empty();
        private int numFrames = 121;
        private int numInferenceSteps = 50;
        private double guidanceScale = 6.0;
        private Optional<Double> flowShift = Optional.empty();
        private long seed;
        private Map<String, Tensor> promptEmbeds = Map.of();

        private Builder() {
        }

        public Builder prompt(String prompt) {
            this.prompt = Objects.requireNonNull(prompt, "prompt");
            return this;
        }

        public Builder negativePrompt(String negativePrompt) {
            this.negativePrompt = Objects.requireNonNull(negativePrompt, "negativePrompt");
            return this;
        }

        /** The first frame: image-to-video. */
        public Builder image(Path image) {
            this.image = Optional.of(image);
            return this;
        }

        /** No image: text-to-video. */
        public Builder noImage() {
            this.image = Optional.empty();
            return this;
        }

        /** Height and width in pixels. */
        public Builder size(int height, int width) {
            this.height = Optional.of(height);
            this.width = Optional.of(width);
            return this;
        }

        public Builder numFrames(int numFrames) {
            this.numFrames = numFrames;
            return this;
        }

        public Builder numInferenceSteps(int numInferenceSteps) {
            this.numInferenceSteps = numInferenceSteps;
            return this;
        }

        public Builder guidanceScale(double guidanceScale) {
            this.guidanceScale = guidanceScale;
            return this;
        }

        public Builder flowShift(double flowShift) {
            this.flowShift = Optional.of(flowShift);
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Precomputed embeddings named as the reference pipeline's arguments; empty to encode the prompt. */
        public Builder promptEmbeds(Map<String, Tensor> promptEmbeds) {
            this.promptEmbeds = Objects.requireNonNull(promptEmbeds, "promptEmbeds");
            return this;
        }

        public GenerationRequest build() {
            if (height.isPresent() && (height.get() < 1 || width.get() < 1)) {
                throw new IllegalArgumentException("size " + height.get() + "x" + width.get() + ": height and width must be positive");
            }
            if (numFrames < 1) {
                throw new IllegalArgumentException("numFrames " + numFrames + ": must be at least 1");
            }
            if (numInferenceSteps < 1) {
                throw new IllegalArgumentException("numInferenceSteps " + numInferenceSteps + ": must be at least 1");
            }
            if (!Double.isFinite(guidanceScale)) {
                throw new IllegalArgumentException("guidanceScale " + guidanceScale + ": must be a finite number");
            }
            if (flowShift.isPresent() && !(flowShift.get() > 0 && Double.isFinite(flowShift.get()))) {
                throw new IllegalArgumentException("flowShift " + flowShift.get() + ": must be a positive number");
            }
            return new GenerationRequest(image.isPresent() ? Task.IMAGE_TO_VIDEO : Task.TEXT_TO_VIDEO, prompt, negativePrompt,
                    image, height, width, numFrames, numInferenceSteps, guidanceScale, flowShift, seed, promptEmbeds);
        }
    }
}
