package io.diffuse.core.serve;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The generation service words its checks for the command line ({@code --height 100 is not ...});
 * an HTTP client sent request fields, so the server's error messages name those instead.
 */
final class ApiWording {
    /** Command-line flags and the {@code POST /v1/videos} field each one is (longest flags first). */
    private static final Map<String, String> FIELDS = new LinkedHashMap<>();

    static {
        FIELDS.put("--num-inference-steps", "num_inference_steps");
        FIELDS.put("--negative-prompt", "negative_prompt");
        FIELDS.put("--guidance-scale", "guidance_scale");
        FIELDS.put("--prompt-embeds", "prompt_embeds");
        FIELDS.put("--vae-parallel", "parallel.vae");
        FIELDS.put("--cfg-parallel", "parallel.cfg");
        FIELDS.put("--num-frames", "num_frames");
        FIELDS.put("--flow-shift", "flow_shift");
        FIELDS.put("--strategy", "parallel.strategy");
        FIELDS.put("--ulysses", "parallel.ulysses");
        FIELDS.put("--height", "height");
        FIELDS.put("--prompt", "prompt");
        FIELDS.put("--width", "width");
        FIELDS.put("--image", "input_reference");
        FIELDS.put("--ring", "parallel.ring");
        FIELDS.put("--seed", "seed");
        FIELDS.put("--fps", "fps");
    }

    /** The rank-count hint of the command line: a server's rank count is fixed, so only the degrees can change. */
    private static final Pattern NPROC_HINT = Pattern.compile("; give --nproc \\d+ for this layout, or degrees whose product is (\\d+)");
    private static final Pattern FLAG = Pattern.compile("--[a-z][a-z-]*");

    private ApiWording() {
    }

    /** {@code message} with request fields where it names command-line flags. */
    static String of(String message) {
        if (message == null) {
            return null;
        }
        String m = NPROC_HINT.matcher(message).replaceAll("; give parallel degrees whose product is $1, the rank count of this"
                + " server");
        m = m.replace("(from command-line flag)", "(from the request)").replace(" from command-line flag", " from the request");
        Matcher flags = FLAG.matcher(m);
        StringBuilder out = new StringBuilder();
        while (flags.find()) {
            String field = FIELDS.get(flags.group());
            flags.appendReplacement(out, Matcher.quoteReplacement(field != null ? field : flags.group()));
        }
        flags.appendTail(out);
        return out.toString();
    }
}
