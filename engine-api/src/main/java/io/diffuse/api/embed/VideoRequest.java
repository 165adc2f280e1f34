package io.diffuse.api.embed;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What to generate and where to write it: the {@code diffuse.generate.*} keys of one request (the
 * command line's generate flags). Unset values take the configured ones.
 */
public final class VideoRequest {
    private final Map<String, Object> settings;

    private VideoRequest(Map<String, Object> settings) {
        this.settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The request as configuration keys (full paths, e.g. diffuse.generate.prompt). */
    public Map<String, Object> settings() {
        return settings;
    }

    @Override
    public String toString() {
        return "VideoRequest" + settings;
    }

    /** Builds a {@link VideoRequest}. */
    public static final class Builder {
        private final Map<String, Object> s = new LinkedHashMap<>();

        private Builder() {
        }

        private Builder put(String key, Object value) {
            s.put("diffuse.generate." + key, value instanceof Path p ? p.toString() : value);
            return this;
        }

        public Builder prompt(String prompt) {
            return put("prompt", prompt);
        }

        public Builder negativePrompt(String negativePrompt) {
            return put("negative-prompt", negativePrompt);
        }

        /** An input image: image-to-video. */
        public Builder image(Path image) {
            return put("image", image);
        }

        public Builder size(int height, int width) {
            put("height", height);
            return put("width", width);
        }

        public Builder numFrames(int frames) {
            return put("num-frames", frames);
        }

        public Builder numInferenceSteps(int steps) {
            return put("num-inference-steps", steps);
        }

        public Builder guidanceScale(double scale) {
            return put("guidance-scale", scale);
        }

        public Builder flowShift(double shift) {
            return put("flow-shift", shift);
        }

        public Builder seed(long seed) {
            return put("seed", seed);
        }

        public Builder fps(int fps) {
            return put("fps", fps);
        }

        /** An MP4 file to write. */
        public Builder output(Path mp4) {
            return put("output", mp4);
        }

        /** A folder to write the frames to as PNG files. */
        public Builder pngFrames(Path directory) {
            return put("png-frames", directory);
        }

        /** A safetensors file to write latents and video to. */
        public Builder outputTensors(Path file) {
            return put("output-tensors", file);
        }

        /**
         * Any other configuration key for this request only, e.g. {@code set("diffuse.parallel.strategy", "ring")}
         * (a plan within the engine's world).
         */
        public Builder set(String key, Object value) {
            s.put(key.startsWith("diffuse.") ? key : "diffuse." + key, value instanceof Path p ? p.toString() : value);
            return this;
        }

        /** Precomputed prompt embeddings (safetensors, diffusers argument names). */
        public Builder promptEmbeds(Path file) {
            return put("prompt-embeds", file);
        }

        public VideoRequest build() {
            return new VideoRequest(s);
        }
    }
}
