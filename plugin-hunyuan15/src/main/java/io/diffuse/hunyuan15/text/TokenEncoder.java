package io.diffuse.hunyuan15.text;

import org.bytedeco.pytorch.Tensor;

/**
 * A text encoder seen from the pipeline: token ids and mask in, hidden states out. Implemented
 * natively ({@link Qwen25VLTextModel}, {@link T5EncoderModel}) or by a user's TorchScript export
 * ({@link TorchScriptEncoder}).
 */
public interface TokenEncoder extends AutoCloseable {
    /**
     * Hidden states (B, L, D) for {@code inputIds} (B, L) int64 and {@code attentionMask} (B, L) int64
     * (1 for real tokens). For the Qwen encoder this is hidden_states[-3]; for ByT5 last_hidden_state.
     */
    Tensor encode(Tensor inputIds, Tensor attentionMask);

    /** D, the width of the returned states. */
    long hiddenSize();

    @Override
    void close();
}
