package io.diffuse.hunyuan15.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.util.Ec2Utils;
import java.lang.reflect.Field;
import org.junit.jupiter.api.Test;

/**
 * Creating the prompt tokenizer must not run DJL's telemetry: DJL records the time of its "call home"
 * in Ec2Utils.lastCheckIn before it asks the cloud metadata address and reports the instance, and
 * leaves it at 0 when tracking is opted out. No other code in this module creates a DJL tokenizer.
 */
class TokenizerTelemetryTest {
    @Test
    void creatingTheTokenizerDoesNotCallHome() throws ReflectiveOperationException {
        try (QwenPromptTokenizer tok = TinyEncoders.tokenizer()) {
            assertEquals(1, tok.ids("a").length);
        }
        Field lastCheckIn = Ec2Utils.class.getDeclaredField("lastCheckIn");
        lastCheckIn.setAccessible(true);
        assertEquals(0L, lastCheckIn.getLong(null), "DJL's telemetry ran when the tokenizer was created");
        assertEquals("true", System.getProperty("OPT_OUT_TRACKING", System.getenv("OPT_OUT_TRACKING")));
    }
}
