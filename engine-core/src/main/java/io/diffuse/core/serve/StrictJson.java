package io.diffuse.core.serve;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * JSON bodies read strictly: a key given twice or anything after the JSON value is an error (a
 * lenient reader takes the last value or ignores the rest, so two readers of one body could
 * disagree on what it says).
 */
final class StrictJson {
    static final ObjectMapper MAPPER = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate field '([^']*)'");

    private StrictJson() {
    }

    /** The body's one JSON value; 400 naming the field given twice, the trailing data, or the syntax error. */
    static Object read(byte[] body) {
        try {
            return MAPPER.readValue(body, Object.class);
        } catch (IOException e) {
            throw invalid(e);
        }
    }

    /** The 400 for what {@link #MAPPER} could not read. */
    static ApiError invalid(IOException e) {
        String m = String.valueOf(e.getMessage());
        String first = m.indexOf('\n') < 0 ? m : m.substring(0, m.indexOf('\n'));
        Matcher d = DUPLICATE.matcher(first);
        if (e instanceof JsonParseException && d.find()) {
            return ApiError.invalid(d.group(1), "the body gives '" + d.group(1) + "' more than once; give each field once");
        }
        if (first.startsWith("Trailing token")) {
            return ApiError.invalid(null, "the body has more after its JSON value; send exactly one JSON object");
        }
        return ApiError.invalid(null, "the body is not valid JSON: " + first);
    }
}
