package io.diffuse.hunyuan15.text;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * transformers' ByT5Tokenizer for plain text: UTF-8 bytes shifted by 3 (0 = pad, 1 = eos, 2 = unk),
 * eos appended, truncated (keeping the eos) and right-padded to {@code maxLength}. The extended
 * special tokens of the Glyph checkpoint ({@code <color-i>}, fonts) are not produced by plain text.
 */
public final class ByT5Tokenizer {
    /** Pad id. */
    public static final long PAD = 0;
    /** End-of-sequence id. */
    public static final long EOS = 1;
    private static final int OFFSET = 3;

    private ByT5Tokenizer() {
    }

    /** ids and mask (both {@code maxLength} long) of {@code text} with eos, padding="max_length", truncation. */
    public static long[][] encode(String text, int maxLength) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(bytes.length, maxLength - 1);
        long[] ids = new long[maxLength];
        long[] mask = new long[maxLength];
        Arrays.fill(ids, PAD);
        for (int i = 0; i < n; i++) {
            ids[i] = (bytes[i] & 0xff) + OFFSET;
        }
        ids[n] = EOS;
        Arrays.fill(mask, 0, n + 1, 1L);
        return new long[][] {ids, mask};
    }
}
