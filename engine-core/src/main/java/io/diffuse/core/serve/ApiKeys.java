package io.diffuse.core.serve;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * The server's API keys ({@code diffuse.serve.api-key} and {@code api-keys}) and who a request is.
 * With keys, every job belongs to the key that created it: the list shows a key its own jobs, and
 * another key's job is "not found". A job's record keeps the key's SHA-256 digest, never the key.
 */
final class ApiKeys {
    /** The request attribute with the caller (see {@link #caller}). */
    static final String CALLER = "io.diffuse.serve.caller";
    private final List<String> keys;

    ApiKeys(List<String> keys) {
        this.keys = List.copyOf(keys);
    }

    boolean any() {
        return !keys.isEmpty();
    }

    /**
     * Who sent the request: the digest of its key, or null when the server has no keys (every caller
     * is the same one).
     *
     * @param authorization the Authorization header, or null
     * @throws ApiError 401 when the server has keys and the request has none of them
     */
    String caller(String authorization) {
        if (keys.isEmpty()) {
            return null;
        }
        String token = bearerToken(authorization);
        if (token != null) {
            byte[] given = token.getBytes(StandardCharsets.UTF_8);
            String match = null;
            for (String key : keys) { // every key compared, in constant time each
                if (MessageDigest.isEqual(given, key.getBytes(StandardCharsets.UTF_8))) {
                    match = key;
                }
            }
            if (match != null) {
                return digest(match);
            }
        }
        throw new ApiError(401, "authentication_error", null, "invalid_api_key", token == null
                ? "missing API key: send Authorization: Bearer <one of diffuse.serve.api-key / api-keys>"
                : "wrong API key: send Authorization: Bearer <one of diffuse.serve.api-key / api-keys>");
    }

    /** Whether {@code caller} (from {@link #caller}) may see a job that {@code owner} created. */
    static boolean sees(String caller, String owner) {
        return caller == null ? owner == null : caller.equals(owner);
    }

    /** The token of {@code Authorization: Bearer TOKEN}; the scheme is case-insensitive (RFC 9110 11.1). Null if none. */
    static String bearerToken(String authorization) {
        if (authorization == null) {
            return null;
        }
        String a = authorization.trim();
        int space = a.indexOf(' ');
        if (space < 0 || !a.substring(0, space).toLowerCase(Locale.ROOT).equals("bearer")) {
            return null;
        }
        String token = a.substring(space + 1).trim();
        return token.isEmpty() ? null : token;
    }

    /** Whether the header carries exactly {@code key} as its bearer token. */
    static boolean isBearer(String authorization, String key) {
        String token = bearerToken(authorization);
        return token != null && MessageDigest.isEqual(token.getBytes(StandardCharsets.UTF_8), key.getBytes(StandardCharsets.UTF_8));
    }

    private static String digest(String key) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(
                    StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
