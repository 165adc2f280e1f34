package io.diffuse.core.serve;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fields of {@code POST /v1/videos} (OpenAI's, and vllm-omni's extensions) mapped onto
 * {@code diffuse.generate.*} and {@code diffuse.parallel.*} keys, with the server's limits. What the
 * generation service checks (geometry, degrees, strategies) is checked afterwards, on the whole plan.
 */
final class VideoRequests {
    private static final Pattern SIZE = Pattern.compile("(\\d{1,5})x(\\d{1,5})");
    static final Set<String> FIELDS = Set.of("model", "prompt", "seconds", "size", "input_reference", "width", "height",
            "num_frames", "fps", "num_inference_steps", "guidance_scale", "flow_shift", "seed", "negative_prompt", "parallel");
    private static final Map<String, String> PARALLEL = Map.of("ulysses", "diffuse.parallel.ulysses", "ring",
            "diffuse.parallel.ring", "cfg", "diffuse.parallel.cfg", "vae", "diffuse.parallel.vae", "strategy",
            "diffuse.parallel.strategy", "vae_executor", "diffuse.vae.executor");

    /** A request read: its flags and what the job object echoes. */
    record Parsed(Map<String, Object> flags, String model, String prompt, String size, String seconds) {
    }

    private VideoRequests() {
    }

    /**
     * Reads the fields (strings from multipart, JSON values otherwise).
     *
     * @param servedModel the model this server serves (and its family, both accepted as {@code model})
     */
    static Parsed parse(Map<String, Object> fields, String servedModel, String family, ServeSettings limits) {
        for (String k : fields.keySet()) {
            if (!FIELDS.contains(k)) {
                throw ApiError.invalid(k, "unknown field '" + k + "'; known fields: " + new java.util.TreeSet<>(FIELDS));
            }
        }
        Map<String, Object> f = new LinkedHashMap<>();
        String model = string(fields, "model");
        if (model != null && !model.equals(servedModel) && !model.equals(family)) {
            throw ApiError.invalid("model", "this server serves " + servedModel + " (" + family + "); model '" + model
                    + "' is not served (leave model out or give " + servedModel + ")");
        }
        String prompt = string(fields, "prompt");
        if (prompt == null || prompt.isBlank()) {
            throw ApiError.invalid("prompt", "prompt is required");
        }
        if (prompt.length() > limits.maxPromptChars()) {
            throw ApiError.invalid("prompt", "prompt has " + prompt.length() + " characters; this server takes at most "
                    + limits.maxPromptChars() + " (diffuse.serve.max-prompt-chars)");
        }
        f.put("diffuse.generate.prompt", prompt);
        String negative = string(fields, "negative_prompt");
        if (negative != null) {
            if (negative.length() > limits.maxPromptChars()) {
                throw ApiError.invalid("negative_prompt", "negative_prompt has " + negative.length()
                        + " characters; at most " + limits.maxPromptChars());
            }
            f.put("diffuse.generate.negative-prompt", negative);
        }
        String size = string(fields, "size");
        if (size != null) {
            Matcher m = SIZE.matcher(size.trim());
            if (!m.matches()) {
                throw ApiError.invalid("size", "size '" + size + "' is not WIDTHxHEIGHT, e.g. 128x128");
            }
            int w = Integer.parseInt(m.group(1));
            int h = Integer.parseInt(m.group(2));
            if (w < 1 || h < 1 || w > 16384 || h > 16384) {
                throw ApiError.invalid("size", "size '" + size + "': width and height must each be 1..16384, e.g. 128x128");
            }
            f.put("diffuse.generate.width", w);
            f.put("diffuse.generate.height", h);
        }
        Integer width = integer(fields, "width", 1, 16384);
        Integer height = integer(fields, "height", 1, 16384);
        if (width != null) {
            f.put("diffuse.generate.width", width);
        }
        if (height != null) {
            f.put("diffuse.generate.height", height);
        }
        Integer fps = integer(fields, "fps", 1, 240);
        if (fps != null) {
            f.put("diffuse.generate.fps", fps);
        }
        Integer frames = integer(fields, "num_frames", 1, limits.maxFrames());
        Object secondsValue = fields.get("seconds");
        if (secondsValue != null && !(secondsValue instanceof String) && !(secondsValue instanceof Number)) {
            throw ApiError.invalid("seconds", "seconds must be a number of seconds such as \"4\", not " + kind(secondsValue));
        }
        String seconds = text(fields, "seconds");
        if (frames == null && seconds != null) {
            double s;
            try {
                s = Double.parseDouble(seconds.trim());
            } catch (NumberFormatException e) {
                throw ApiError.invalid("seconds", "seconds '" + seconds + "' is not a number");
            }
            if (!Double.isFinite(s) || s <= 0) {
                throw ApiError.invalid("seconds", "seconds '" + seconds + "' must be a positive, finite number of seconds");
            }
            int rate = fps == null ? 24 : fps;
            // The model's frame counts are 4k+1: the nearest one to seconds x fps (in double: no overflow).
            double k = Math.max(0, Math.floor(s * rate / 4.0 + 0.5));
            if (4 * k + 1 > limits.maxFrames()) {
                throw ApiError.invalid("seconds", "seconds " + seconds + " at " + rate + " fps is more than the "
                        + limits.maxFrames() + " frames this server allows (diffuse.serve.max-frames)");
            }
            frames = (int) (4 * k + 1);
        }
        if (frames != null) {
            f.put("diffuse.generate.num-frames", frames);
        }
        Integer steps = integer(fields, "num_inference_steps", 1, limits.maxSteps());
        if (steps != null) {
            f.put("diffuse.generate.num-inference-steps", steps);
        }
        Double guidance = number(fields, "guidance_scale");
        if (guidance != null) {
            f.put("diffuse.generate.guidance-scale", guidance);
        }
        Double shift = number(fields, "flow_shift");
        if (shift != null) {
            f.put("diffuse.generate.flow-shift", shift);
        }
        Object seed = fields.get("seed");
        if (seed != null) {
            try {
                f.put("diffuse.generate.seed", Long.parseLong(seed.toString().trim()));
            } catch (NumberFormatException e) {
                throw ApiError.invalid("seed", "seed '" + seed + "' is not an integer");
            }
        }
        Object parallel = fields.get("parallel");
        if (parallel != null) {
            if (!(parallel instanceof Map<?, ?> p)) {
                throw ApiError.invalid("parallel", "parallel must be an object such as {\"ulysses\": 2}");
            }
            for (Map.Entry<?, ?> e : p.entrySet()) {
                String key = PARALLEL.get(String.valueOf(e.getKey()));
                if (key == null) {
                    throw ApiError.invalid("parallel." + e.getKey(), "unknown parallel field '" + e.getKey() + "'; known: "
                            + new java.util.TreeSet<>(PARALLEL.keySet()));
                }
                f.put(key, e.getValue() instanceof Number n ? n : String.valueOf(e.getValue()));
            }
        }
        return new Parsed(f, model, prompt, size, seconds);
    }

    /** The request field a configuration key comes from (for error.param). */
    static String fieldOf(String message) {
        String[][] keys = {{"diffuse.generate.num-frames", "num_frames"}, {"diffuse.generate.num-inference-steps",
            "num_inference_steps"}, {"diffuse.generate.guidance-scale", "guidance_scale"}, {"diffuse.generate.flow-shift",
            "flow_shift"}, {"diffuse.generate.height", "size"}, {"diffuse.generate.width", "size"},
            {"diffuse.generate.fps", "fps"}, {"diffuse.generate.seed", "seed"}, {"diffuse.parallel", "parallel"},
            {"diffuse.vae", "parallel"}, {"--image", "input_reference"}, {"height", "size"}, {"width", "size"},
            {"frames", "num_frames"}, {"strategy", "parallel"}, {"ulysses", "parallel"}, {"guidance", "guidance_scale"}};
        for (String[] k : keys) {
            if (message.contains(k[0])) {
                return k[1];
            }
        }
        return null;
    }

    /** A text field: a JSON string (multipart fields always are); a number, array, object or boolean is a 400. */
    private static String string(Map<String, Object> fields, String key) {
        Object v = fields.get(key);
        if (v != null && !(v instanceof String)) {
            throw ApiError.invalid(key, key + " must be a string, not " + kind(v));
        }
        return (String) v;
    }

    private static String kind(Object v) {
        return v instanceof Map ? "an object" : v instanceof java.util.List ? "an array" : v instanceof Boolean ? "a boolean"
                : "a number";
    }

    private static String text(Map<String, Object> fields, String key) {
        Object v = fields.get(key);
        return v == null ? null : v.toString();
    }

    private static Integer integer(Map<String, Object> fields, String key, int min, int max) {
        Object v = fields.get(key);
        if (v == null) {
            return null;
        }
        long n;
        try {
            n = Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw ApiError.invalid(key, key + " '" + v + "' is not an integer");
        }
        if (n < min || n > max) {
            throw ApiError.invalid(key, key + " " + n + " is out of range: " + min + ".." + max
                    + (key.equals("num_frames") ? " (diffuse.serve.max-frames)" : key.equals("num_inference_steps")
                            ? " (diffuse.serve.max-steps)" : ""));
        }
        return (int) n;
    }

    private static Double number(Map<String, Object> fields, String key) {
        Object v = fields.get(key);
        if (v == null) {
            return null;
        }
        try {
            double d = Double.parseDouble(v.toString().trim());
            if (!Double.isFinite(d)) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw ApiError.invalid(key, key + " '" + v + "' is not a finite number");
        }
    }
}
