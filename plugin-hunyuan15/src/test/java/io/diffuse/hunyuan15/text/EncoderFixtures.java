package io.diffuse.hunyuan15.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Paths and helpers for the fixtures written by tools/reference/gen_encoders.py. */
public final class EncoderFixtures {
    private EncoderFixtures() {
    }

    /** fixtures/encoders. */
    public static Path dir() {
        try {
            return Path.of(EncoderFixtures.class.getResource("/fixtures/encoders").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A value of cases.json (strings unescaped for \" and \\; numbers as text). */
    public static String caseValue(String key) {
        try {
            String json = Files.readString(dir().resolve("cases.json"));
            Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|[0-9]+)").matcher(json);
            if (!m.find()) {
                throw new IllegalStateException("cases.json has no " + key);
            }
            return m.group(2) != null ? m.group(2).replace("\\\"", "\"").replace("\\\\", "\\") : m.group(1);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** max |a - b| after checking shapes. */
    public static double maxAbsDiff(Tensor a, Tensor b) {
        assertArrayEquals(b.sizes().vec().get(), a.sizes().vec().get(), "shape");
        // On the CPU: results may come from another device (-Ddiffuse.test.device).
        org.bytedeco.pytorch.Device cpu = new org.bytedeco.pytorch.Device("cpu");
        return a.to(cpu, ScalarType.Double).sub(b.to(cpu, ScalarType.Double)).abs().max().item_double();
    }

    /** The int64 values of a 2-D (1, L) tensor. */
    public static long[] longs(Tensor t) {
        Tensor c = t.to(ScalarType.Long).contiguous();
        long[] out = new long[(int) c.numel()];
        new org.bytedeco.javacpp.LongPointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }
}
