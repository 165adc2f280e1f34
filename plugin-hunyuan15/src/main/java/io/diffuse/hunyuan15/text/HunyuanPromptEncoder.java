package io.diffuse.hunyuan15.text;

import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * HunyuanVideo 1.5's prompt encoding, as diffusers' HunyuanVideo15Pipeline.encode_prompt does it:
 * <ul>
 * <li>Qwen2.5-VL: chat template, tokens truncated/padded to max_length + crop start, hidden_states[-3],
 * then the first crop-start tokens dropped: prompt_embeds (1, max_length, D) and prompt_embeds_mask
 * (1, max_length) int64;</li>
 * <li>ByT5: the quoted substrings in the glyph format, last_hidden_state: prompt_embeds_2 (1, 256, D2)
 * and prompt_embeds_mask_2; zeros and an all-zero mask when the prompt quotes nothing.</li>
 * </ul>
 */
public final class HunyuanPromptEncoder implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HunyuanPromptEncoder.class);
    private final QwenPromptTokenizer tokenizer;
    private final TokenEncoder textEncoder;
    private final TokenEncoder textEncoder2;
    private final int maxLength;
    private final int byt5MaxLength;
    private final Device device;
    private final ScalarType dtype;

    /** Assembles an encoder from its parts; takes ownership of all three. */
    public HunyuanPromptEncoder(QwenPromptTokenizer tokenizer, TokenEncoder textEncoder, TokenEncoder textEncoder2,
            int maxLength, int byt5MaxLength, DType dtype, Device device) {
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.textEncoder2 = textEncoder2;
        this.maxLength = maxLength;
        this.byt5MaxLength = byt5MaxLength;
        this.device = device;
        this.dtype = dtype.scalarType();
    }

    /**
     * Loads text_encoder/, tokenizer/ and text_encoder_2/ from the pipeline root {@code root}
     * (tokenizer_2 is ByT5's byte tokenizer, implemented here), or TorchScript files per {@code options}.
     */
    public static HunyuanPromptEncoder load(Path root, CheckpointLoader checkpoints, EncoderOptions options, DType dtype,
            Device device) {
        ScalarType st = dtype.scalarType();
        Path tokDir = Files.isDirectory(root.resolve("tokenizer")) ? root.resolve("tokenizer") : root;
        QwenPromptTokenizer tok = QwenPromptTokenizer.load(tokDir);
        TokenEncoder te = null;
        try {
            if (options.textEncoderTorchScript() != null) {
                te = TorchScriptEncoder.load(options.textEncoderTorchScript(), device, st);
            } else {
                try (Checkpoint c = checkpoints.open(root, "text_encoder")) {
                    te = Qwen25VLTextModel.load(c, dtype, device);
                }
            }
            TokenEncoder te2;
            if (options.textEncoder2TorchScript() != null) {
                te2 = TorchScriptEncoder.load(options.textEncoder2TorchScript(), device, st);
            } else {
                try (Checkpoint c = checkpoints.open(root, "text_encoder_2")) {
                    te2 = T5EncoderModel.load(c, dtype, device);
                }
            }
            return new HunyuanPromptEncoder(tok, te, te2, options.maxLength(), options.byt5MaxLength(), dtype, device);
        } catch (RuntimeException e) {
            tok.close();
            if (te != null) {
                te.close();
            }
            throw e;
        }
    }

    /** The Qwen tokenizer (for its crop start). */
    public QwenPromptTokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * prompt_embeds, prompt_embeds_mask, prompt_embeds_2, prompt_embeds_mask_2 for {@code prompt} and,
     * unless {@code negativePrompt} is null, the same four prefixed "negative_". Tensors are attached to
     * the caller's PointerScope, or retained when there is none (then the caller closes them).
     */
    public Map<String, Tensor> encode(String prompt, String negativePrompt) {
        return encode(prompt, negativePrompt, true);
    }

    /**
     * {@link #encode(String, String)}; {@code warn} says whether to log a WARN line when a prompt is
     * longer than the text encoder's token limit and its end is cut off (false on all ranks but one, so a
     * run says it once).
     */
    public Map<String, Tensor> encode(String prompt, String negativePrompt, boolean warn) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            put(out, "", prompt, warn);
            if (negativePrompt != null) {
                put(out, "negative_", negativePrompt, warn);
            }
            for (Tensor t : out.values()) {
                if (outer != null) {
                    outer.attach(t);
                } else {
                    t.retainReference();
                }
            }
        }
        return out;
    }

    private void put(Map<String, Tensor> out, String prefix, String prompt, boolean warn) {
        Tensor[] mllm = encodeMllm(prompt, warn ? prefix.isEmpty() ? "prompt" : "negative prompt" : null);
        Tensor[] glyph = encodeGlyph(prompt);
        out.put(prefix + "prompt_embeds", mllm[0]);
        out.put(prefix + "prompt_embeds_mask", mllm[1]);
        out.put(prefix + "prompt_embeds_2", glyph[0]);
        out.put(prefix + "prompt_embeds_mask_2", glyph[1]);
    }

    /** diffusers _get_mllm_prompt_embeds: {embeds (1, max_length, D), mask (1, max_length) int64}, in the current scope. */
    public Tensor[] encodeMllm(String prompt) {
        return encodeMllm(prompt, null);
    }

    /** {@link #encodeMllm(String)}, logging a WARN naming {@code what} when the prompt is cut (unless null). */
    private Tensor[] encodeMllm(String prompt, String what) {
        QwenPromptTokenizer.Tokens tokens = tokenizer.encode(prompt, maxLength);
        if (tokens.dropped() > 0 && what != null) {
            // diffusers truncates silently (truncation=True); say so, as the end of the prompt has no effect.
            LOG.warn("the {} is longer than the text encoder's limit of {} tokens: its last {} tokens were dropped",
                    what, maxLength, tokens.dropped());
        }
        Tensor ids = longs(tokens.inputIds());
        Tensor mask = longs(tokens.attentionMask());
        Tensor states = textEncoder.encode(ids, mask);
        int crop = tokens.cropStart();
        // (1, crop + max_length, D) -> (1, max_length, D)
        Tensor embeds = states.narrow(1, crop, maxLength).to(dtype).contiguous();
        return new Tensor[] {embeds, mask.narrow(1, crop, maxLength).contiguous().to(device, ScalarType.Long)};
    }

    /** diffusers _get_byt5_prompt_embeds: {embeds (1, 256, D2), mask (1, 256) int64}, in the current scope. */
    public Tensor[] encodeGlyph(String prompt) {
        String glyph = GlyphPrompt.format(prompt);
        if (glyph == null) {
            return new Tensor[] {DeviceOps.zeros(new long[] {1, byt5MaxLength, textEncoder2.hiddenSize()}, dtype, device),
                    DeviceOps.zeros(new long[] {1, byt5MaxLength}, ScalarType.Long, device)};
        }
        long[][] enc = ByT5Tokenizer.encode(glyph, byt5MaxLength);
        Tensor ids = longs(enc[0]);
        Tensor mask = longs(enc[1]);
        return new Tensor[] {textEncoder2.encode(ids, mask).to(dtype).contiguous(), mask.to(device, ScalarType.Long)};
    }

    private static Tensor longs(long[] values) {
        Tensor t = torch.zeros(new long[] {1, values.length}, new TensorOptions(ScalarType.Long));
        new org.bytedeco.javacpp.LongPointer(t.data_ptr()).capacity(values.length).put(values);
        return t;
    }

    @Override
    public void close() {
        tokenizer.close();
        textEncoder.close();
        textEncoder2.close();
    }
}
