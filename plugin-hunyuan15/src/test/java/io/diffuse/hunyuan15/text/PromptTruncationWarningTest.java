package io.diffuse.hunyuan15.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.diffuse.api.runtime.DType;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Test;

/**
 * A prompt longer than the text encoder's token limit is cut, as diffusers cuts it, and the run says
 * so in one WARN line naming how many tokens were dropped (diffusers says nothing); a prompt that
 * fits, or a rank told not to warn, logs nothing.
 */
class PromptTruncationWarningTest {
    private static final int MAX_LENGTH = 24;

    /** The WARN lines logged (slf4j-simple writes to System.err) while {@code body} runs. */
    private static List<String> warnings(Runnable body) {
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setErr(saved);
        }
        return captured.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains(" WARN ")).toList();
    }

    @Test
    void aCutPromptIsReportedOnceWithTheNumberOfDroppedTokens() {
        String prompt = "a red fox running through deep snow at dawn";
        try (PointerScope scope = new PointerScope();
                HunyuanPromptEncoder encoder = TinyEncoders.promptEncoder(16, 32, MAX_LENGTH, 16, DType.FP32, new Device("cpu"))) {
            QwenPromptTokenizer tokenizer = encoder.tokenizer();
            int dropped = tokenizer.ids(tokenizer.applyChatTemplate(prompt)).length - (MAX_LENGTH + tokenizer.cropStart());
            List<String> logged = warnings(() -> encoder.encode(prompt, "", true));
            assertEquals(List.of("[main] WARN io.diffuse.hunyuan15.text.HunyuanPromptEncoder - the prompt is longer than the text"
                    + " encoder's limit of 24 tokens: its last " + dropped + " tokens were dropped"), logged);
            assertEquals(List.of(), warnings(() -> encoder.encode(prompt, "", false)), "a rank told not to warn");
            assertEquals(List.of(), warnings(() -> encoder.encode("a fox", "", true)), "a prompt that fits");
        }
    }
}
