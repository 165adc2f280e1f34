package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import java.nio.file.Path;
import java.util.Map;

/**
 * How the encoders are built: natively from the pipeline's folders, or, per slot, from a TorchScript
 * file. Configuration keys (plugin-hunyuan15's reference.conf, under {@code diffuse.hunyuan15}):
 * {@code text-encoder.torchscript}, {@code text-encoder-2.torchscript},
 * {@code image-encoder.torchscript} (empty = native), {@code text-encoder.max-length} (1000) and
 * {@code text-encoder-2.max-length} (256).
 *
 * @param textEncoderTorchScript Qwen slot module, or null for the native Qwen2.5-VL port
 * @param textEncoder2TorchScript ByT5 slot module, or null for the native T5 port
 * @param imageEncoderTorchScript SigLIP slot module ({@code forward(pixel_values)}), or null
 * @param maxLength Qwen tokens kept after the crop (diffusers' tokenizer_max_length)
 * @param byt5MaxLength ByT5 tokens (tokenizer_2 max_length)
 */
public record EncoderOptions(Path textEncoderTorchScript, Path textEncoder2TorchScript, Path imageEncoderTorchScript,
        int maxLength, int byt5MaxLength) {
    /** Native encoders, diffusers' lengths. */
    public static final EncoderOptions DEFAULTS = new EncoderOptions(null, null, null, 1000, 256);

    /** Checks the lengths. */
    public EncoderOptions {
        if (maxLength < 1 || byt5MaxLength < 2) {
            throw new DiffuseException("encoder max lengths must be >= 1 (text-encoder.max-length) and >= 2"
                    + " (text-encoder-2.max-length); got " + maxLength + " and " + byt5MaxLength);
        }
    }

    /** From flat keys relative to {@code diffuse.hunyuan15} (see the class comment); missing keys take the defaults. */
    public static EncoderOptions fromMap(Map<String, ?> keys) {
        return new EncoderOptions(path(keys, "text-encoder.torchscript"), path(keys, "text-encoder-2.torchscript"),
                path(keys, "image-encoder.torchscript"), integer(keys, "text-encoder.max-length", 1000),
                integer(keys, "text-encoder-2.max-length", 256));
    }

    private static Path path(Map<String, ?> keys, String key) {
        Object v = keys.get(key);
        return v == null || v.toString().isBlank() ? null : Path.of(v.toString());
    }

    private static int integer(Map<String, ?> keys, String key, int dflt) {
        Object v = keys.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return v instanceof Number n ? n.intValue() : Integer.parseInt(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new DiffuseException("diffuse.hunyuan15." + key + " must be an integer, found '" + v + "'");
        }
    }
}
