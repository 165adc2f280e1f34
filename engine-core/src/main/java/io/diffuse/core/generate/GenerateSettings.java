package io.diffuse.core.generate;

import com.typesafe.config.Config;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.Task;
import io.diffuse.core.config.ConfigException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.Tensor;

/**
 * {@code diffuse.generate.*} read once into types: the request (what to generate) and where the
 * results go. Unset values are empty, never sentinels; every bad value is a one-line error naming
 * its path. The CLI's flags, the server's JSON fields and the Java API's request all land here.
 *
 * @param model "builtin:NAME", a folder, or "" for the default built-in model of {@code modelFamily}
 * @param outputs where rank 0 writes the results
 */
public record GenerateSettings(
        String model,
        Optional<String> modelFamily,
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
        Optional<Path> promptEmbeds,
        Outputs outputs) {

    /** Output files: an MP4, a folder of PNG frames, a safetensors file of latents and video. */
    public record Outputs(Optional<Path> mp4, int fps, Optional<Path> pngFrames, Optional<Path> tensors) {
        /** Whether anything is to be written. */
        public boolean any() {
            return mp4.isPresent() || pngFrames.isPresent() || tensors.isPresent();
        }
    }

    /** The configuration prefix. */
    public static final String PREFIX = "diffuse.generate";

    /** Reads and checks the values that need no model (types, ranges, files, outputs). */
    public static GenerateSettings from(Config config) {
        Config g = config.getConfig(PREFIX);
        Optional<Integer> height = positiveOrUnset(g, "height");
        Optional<Integer> width = positiveOrUnset(g, "width");
        int frames = g.getInt("num-frames");
        if (frames < 1) {
            throw new ConfigException(PREFIX + ".num-frames", frames, "must be at least 1 (the model may require more, e.g. 4k+1)");
        }
        int steps = g.getInt("num-inference-steps");
        if (steps < 1) {
            throw new ConfigException(PREFIX + ".num-inference-steps", steps, "must be at least 1");
        }
        double guidance = g.getDouble("guidance-scale");
        if (!Double.isFinite(guidance) || guidance < 0) {
            throw new ConfigException(PREFIX + ".guidance-scale", guidance,
                    "must be a finite number >= 0 (1 = no classifier-free guidance; the default is 6.0)");
        }
        double shift = g.getDouble("flow-shift");
        if (!Double.isFinite(shift) || shift < 0) {
            throw new ConfigException(PREFIX + ".flow-shift", shift, "must be a finite number > 0, or 0 for the model's own shift");
        }
        int fps = g.getInt("fps");
        if (fps < 1 || fps > 240) {
            throw new ConfigException(PREFIX + ".fps", fps, "must be between 1 and 240");
        }
        Outputs outputs = new Outputs(path(g, "output"), fps, path(g, "png-frames"), path(g, "output-tensors"));
        String family = g.getString("model-family").trim();
        return new GenerateSettings(g.getString("model").trim(), family.isEmpty() ? Optional.empty() : Optional.of(family),
                g.getString("prompt"), g.getString("negative-prompt"), path(g, "image"), height, width, frames, steps,
                guidance, shift > 0 ? Optional.of(shift) : Optional.empty(), g.getLong("seed"), path(g, "prompt-embeds"),
                outputs);
    }

    private static Optional<Integer> positiveOrUnset(Config g, String key) {
        int v = g.getInt(key);
        if (v < 0) {
            throw new ConfigException(PREFIX + "." + key, v, "must be positive (or 0 for the model's default size)");
        }
        return v == 0 ? Optional.empty() : Optional.of(v);
    }

    private static Optional<Path> path(Config g, String key) {
        String v = g.getString(key).trim();
        return v.isEmpty() ? Optional.empty() : Optional.of(Path.of(v));
    }

    /** The pipeline's request; {@code embeds} are the tensors of {@link #promptEmbeds} once read. */
    public GenerationRequest request(Map<String, Tensor> embeds) {
        return new GenerationRequest(image.isPresent() ? Task.IMAGE_TO_VIDEO : Task.TEXT_TO_VIDEO, prompt, negativePrompt,
                image, height, width, numFrames, numInferenceSteps, guidanceScale, flowShift, seed, embeds);
    }
}
