package io.diffuse.hunyuan15.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Qwen2.5-VL prompt tokenization for HunyuanVideo 1.5: the chat template (system message + user
 * prompt + generation prompt, Qwen's ChatML), tokenized by the HF tokenizers library from
 * {@code tokenizer.json} (through DJL's JNI binding, natives inside its jar: no network), right padding
 * with the pad token and truncation to {@code maxLength + cropStart}, as diffusers' pipeline does. The
 * crop start is computed as the official code does: the index just after the tokens of
 * {@code "<|im_start|>user\n"}.
 */
public final class QwenPromptTokenizer implements AutoCloseable {
    /** HunyuanVideo 1.5's system message (both repos; 477 characters, nine spaces before each item). */
    public static final String SYSTEM_MESSAGE = "You are a helpful assistant. Describe the video by detailing the following aspects: "
            + "        1. The main content and theme of the video. "
            + "        2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects. "
            + "        3. Actions, events, behaviors temporal relationships, physical movement changes of the objects. "
            + "        4. background environment, light, style and atmosphere. "
            + "        5. camera angles, movements, and transitions used in the video.";

    /**
     * Token ids (1, maxLength + cropStart) and mask, plus the crop start and how many tokens of the
     * templated prompt the length limit cut off (0 when it fit).
     */
    public record Tokens(long[] inputIds, long[] attentionMask, int cropStart, int dropped) {
    }

    private final HuggingFaceTokenizer tokenizer;
    private final long padId;
    private final String systemMessage;
    private final int cropStart;

    private QwenPromptTokenizer(HuggingFaceTokenizer tokenizer, String padToken, String systemMessage) {
        this.tokenizer = tokenizer;
        this.systemMessage = systemMessage;
        long[] pad = ids(padToken);
        if (pad.length != 1) {
            tokenizer.close();
            throw new DiffuseException("tokenizer: pad token '" + padToken + "' is not a single token of tokenizer.json;"
                    + " add it to added_tokens or set pad_token in tokenizer_config.json");
        }
        this.padId = pad[0];
        this.cropStart = computeCropStart();
    }

    /** Reads {@code dir/tokenizer.json}; the pad token comes from tokenizer_config.json ("<|endoftext|>" if absent). */
    public static QwenPromptTokenizer load(Path dir) {
        Path json = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(json)) {
            throw new DiffuseException("tokenizer: " + json + " not found; the pipeline's tokenizer/ folder must hold the"
                    + " HF tokenizer.json of Qwen2.5-VL");
        }
        String pad = "<|endoftext|>";
        Path cfg = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(cfg)) {
            try {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"pad_token\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"")
                        .matcher(Files.readString(cfg));
                if (m.find()) {
                    pad = m.group(1);
                }
            } catch (IOException e) {
                throw new DiffuseException("tokenizer: cannot read " + cfg + ": " + e.getMessage(), e);
            }
        }
        try {
            return new QwenPromptTokenizer(withDjlClassLoader(() -> HuggingFaceTokenizer.newInstance(json, options())), pad,
                    SYSTEM_MESSAGE);
        } catch (IOException | RuntimeException e) {
            throw new DiffuseException("tokenizer: cannot load " + json + ": " + e.getMessage(), e);
        }
    }

    /** A tokenizer from tokenizer.json content (e.g. made in code). */
    public static QwenPromptTokenizer fromJson(String tokenizerJson, String padToken) {
        try (java.io.InputStream in = new java.io.ByteArrayInputStream(tokenizerJson.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
            return new QwenPromptTokenizer(withDjlClassLoader(() -> HuggingFaceTokenizer.newInstance(in, options())), padToken,
                    SYSTEM_MESSAGE);
        } catch (IOException | RuntimeException e) {
            throw new DiffuseException("tokenizer: cannot parse tokenizer.json: " + e.getMessage(), e);
        }
    }

    private interface IoSupplier<T> {
        T get() throws IOException;
    }

    /**
     * DJL finds its JNI library as a resource through the thread's context class loader; inside OSGi
     * that may be a bundle's loader, which cannot see the jar's native/ folder, so use DJL's own.
     */
    private static <T> T withDjlClassLoader(IoSupplier<T> body) throws IOException {
        optOutOfDjlTelemetry();
        Thread thread = Thread.currentThread();
        ClassLoader saved = thread.getContextClassLoader();
        thread.setContextClassLoader(HuggingFaceTokenizer.class.getClassLoader());
        try {
            return body.get();
        } finally {
            thread.setContextClassLoader(saved);
        }
    }

    /**
     * DJL's HuggingFaceTokenizer "calls home" when created: on the creating thread it asks the cloud
     * metadata address (169.254.169.254, up to four 1 s timeouts where that address is filtered) for the
     * instance id and sends it to DJL's telemetry bucket. Every rank creates a tokenizer on its way to the
     * first step, and an inference host should not report itself; DJL skips all of it when
     * OPT_OUT_TRACKING is true. An explicit OPT_OUT_TRACKING (environment or system property) is kept.
     */
    static void optOutOfDjlTelemetry() {
        if (System.getenv("OPT_OUT_TRACKING") == null && System.getProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
    }

    private static Map<String, String> options() {
        // Template text carries its special tokens; padding and truncation are done here as diffusers does.
        return Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false", "modelMaxLength", "1000000");
    }

    /** Qwen's ChatML rendering of [system, user] with add_generation_prompt; an empty prompt becomes " ". */
    public String applyChatTemplate(String prompt) {
        String user = prompt == null || prompt.isEmpty() ? " " : prompt;
        return "<|im_start|>system\n" + systemMessage + "<|im_end|>\n<|im_start|>user\n" + user
                + "<|im_end|>\n<|im_start|>assistant\n";
    }

    /** Token ids of {@code text}, no special tokens added. */
    public long[] ids(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        return e.getIds();
    }

    private int computeCropStart() {
        long[] all = ids(applyChatTemplate("x"));
        long[] marker = ids("<|im_start|>user\n");
        for (int i = 0; i + marker.length <= all.length; i++) {
            if (Arrays.equals(all, i, i + marker.length, marker, 0, marker.length)) {
                return i + marker.length;
            }
        }
        throw new DiffuseException("tokenizer: the chat template's '<|im_start|>user\\n' is not found in its own tokens;"
                + " the tokenizer must define <|im_start|> as a special token");
    }

    /** Index of the first prompt token in the templated sequence (108 for Qwen2.5-VL's tokenizer). */
    public int cropStart() {
        return cropStart;
    }

    /** The pad token id. */
    public long padId() {
        return padId;
    }

    /** Template, tokenize, truncate and right-pad to {@code maxLength + cropStart()}. */
    public Tokens encode(String prompt, int maxLength) {
        int total = maxLength + cropStart;
        long[] raw = ids(applyChatTemplate(prompt));
        long[] out = new long[total];
        long[] mask = new long[total];
        Arrays.fill(out, padId);
        int n = Math.min(raw.length, total);
        System.arraycopy(raw, 0, out, 0, n);
        Arrays.fill(mask, 0, n, 1L);
        return new Tokens(out, mask, cropStart, raw.length - n);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
