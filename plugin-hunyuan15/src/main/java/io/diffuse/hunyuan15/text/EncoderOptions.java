package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.config.PluginSettings;
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

    /** The configuration prefix of these keys. */
    public static final String PREFIX = "diffuse.hunyuan15";

    /** From flat keys relative to {@code diffuse.hunyuan15} (see the class comment); missing keys take the defaults. */
    public static EncoderOptions fromMap(Map<String, ?> keys) {
        return from(PluginSettings.of(PREFIX, keys));
    }

    /**
     * From {@code diffuse.hunyuan15}; each bad value is a one-line error naming its path, and a
     * TorchScript file that does not exist is named before any rank starts.
     */
    public static EncoderOptions from(PluginSettings s) {
        Path[] modules = new Path[3];
        String[] keys = {"text-encoder.torchscript", "text-encoder-2.torchscript", "image-encoder.torchscript"};
        for (int i = 0; i < keys.length; i++) {
            modules[i] = s.path(keys[i]).orElse(null);
            if (modules[i] != null && !java.nio.file.Files.isRegularFile(modules[i])) {
                throw s.invalid(keys[i], modules[i].toString(), "no such file; give a TorchScript module saved with"
                        + " torch.jit.save, or \"\" for the native encoder");
            }
        }
        return new EncoderOptions(modules[0], modules[1], modules[2],
                s.integer("text-encoder.max-length", 1000, 1, 1_000_000), s.integer("text-encoder-2.max-length", 256, 2, 1_000_000));
    }
}
