package io.diffuse.core.serve;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.core.config.ConfigLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may call the admin endpoints, and which keys an admin default may set (checked before any
 * planning). The plan checks themselves run against a real server in itest-serve's ServeApiTest.
 */
class AdminDefaultsTest {

    @TempDir
    Path outputDir;

    /** The server's settings as the configuration layers give them (flags, then the environment). */
    private AdminDefaults admin(String host, String apiKey, Map<String, String> env) {
        ServeSettings s = ServeSettings.from(ConfigLoader.load(null, Map.of("diffuse.serve.host", host,
                "diffuse.serve.api-key", apiKey, "diffuse.serve.output-dir", outputDir.toString()), env, new Properties(),
                List.of()));
        return new AdminDefaults(s, 2, flags -> {
            throw new AssertionError("no plan is made for a refused call: " + flags);
        });
    }

    @Test
    void withAnAdminKeyOnlyItsBearerGrantsAdminAndTheApiKeyDoesNot() {
        AdminDefaults a = admin("0.0.0.0", "api-key", Map.of("DIFFUSE_SERVE_ADMIN__KEY", "admin-key"));
        for (String wrong : new String[] {null, "Bearer api-key", "Bearer admin-keyX", "admin-key"}) {
            ApiError e = assertThrows(ApiError.class, () -> a.authorize(wrong), String.valueOf(wrong));
            assertEquals(401, e.status);
            assertEquals("invalid_admin_key", e.code);
        }
        // An admin key makes the endpoints usable on any address.
        assertDoesNotThrow(() -> a.authorize("Bearer admin-key"));
    }

    @Test
    void withoutAnAdminKeyANonLoopbackServerRefusesAdminWith403NamingTheKey() {
        AdminDefaults a = admin("0.0.0.0", "api-key", Map.of());
        ApiError e = assertThrows(ApiError.class, () -> a.authorize("Bearer api-key"));
        assertEquals(403, e.status);
        assertTrue(e.getMessage().contains("set diffuse.serve.admin-key"), e.getMessage());
    }

    @Test
    void withoutAnAdminKeyOnLoopbackTheApiKeyRuleApplies() {
        assertDoesNotThrow(() -> admin("127.0.0.1", "", Map.of()).authorize(null));
        AdminDefaults keyed = admin("localhost", "api-key", Map.of());
        assertEquals(401, assertThrows(ApiError.class, () -> keyed.authorize(null)).status);
        assertDoesNotThrow(() -> keyed.authorize("Bearer api-key"));
    }

    @Test
    void loopbackAddresses() {
        assertTrue(AdminDefaults.isLoopback("127.0.0.1"));
        assertTrue(AdminDefaults.isLoopback("::1"));
        assertTrue(AdminDefaults.isLoopback("localhost"));
        assertFalse(AdminDefaults.isLoopback("0.0.0.0"));
        assertFalse(AdminDefaults.isLoopback(""));
    }

    @Test
    void keysTheServerDecidesOrOutsideTheAllowedSubtreesAre400NamingTheKey() {
        AdminDefaults a = admin("127.0.0.1", "", Map.of());
        String[][] cases = {
            {"{\"diffuse.generate.output\": \"/etc/x.mp4\"}", "diffuse.generate.output", "decided by the server"},
            {"{\"diffuse.generate.png-frames\": \"/tmp/f\"}", "diffuse.generate.png-frames", "decided by the server"},
            {"{\"diffuse.serve.api-key\": \"\"}", "diffuse.serve.api-key", "cannot be an admin default"},
            {"{\"diffuse.dist.timeout\": \"1s\"}", "diffuse.dist.timeout", "cannot be an admin default"},
            {"{\"diffuse.parallel\": {\"ring\": 2}}", "diffuse.parallel", "one key per configuration path"},
            {"[1]", null, "JSON object"},
            {"{", null, "not valid JSON"},
        };
        for (String[] c : cases) {
            ApiError e = assertThrows(ApiError.class, () -> a.handle("PUT", c[0].getBytes(StandardCharsets.UTF_8)), c[0]);
            assertEquals(400, e.status, c[0]);
            assertEquals(c[1], e.param, c[0]);
            assertTrue(e.getMessage().contains(c[2]), e.getMessage());
        }
        assertEquals(405, assertThrows(ApiError.class, () -> a.handle("POST", new byte[0])).status);
    }
}
