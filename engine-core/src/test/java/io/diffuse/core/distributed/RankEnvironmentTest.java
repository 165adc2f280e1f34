package io.diffuse.core.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The torchrun contract. */
class RankEnvironmentTest {
    @Test
    void readsTheTorchrunVariables() {
        RankEnvironment e = RankEnvironment.from(Map.of("RANK", "2", "WORLD_SIZE", "4", "LOCAL_RANK", "0",
                "MASTER_ADDR", "node0", "MASTER_PORT", "29500"), "127.0.0.1", 0).orElseThrow();
        assertEquals(new RankEnvironment(2, 4, 0, "node0", 29500), e);
        assertEquals(Map.of("RANK", "2", "WORLD_SIZE", "4", "LOCAL_RANK", "0", "MASTER_ADDR", "node0", "MASTER_PORT", "29500"),
                e.toEnvironment());
    }

    @Test
    void fallsBackToConfiguration() {
        RankEnvironment e = RankEnvironment.from(Map.of("RANK", "1", "WORLD_SIZE", "2"), "10.0.0.1", 1234).orElseThrow();
        assertEquals(new RankEnvironment(1, 2, 1, "10.0.0.1", 1234), e);
        assertEquals(Optional.empty(), RankEnvironment.from(Map.of(), "127.0.0.1", 0));
    }

    @Test
    void badValuesNameTheVariable() {
        assertMessage("WORLD_SIZE", Map.of("RANK", "0"));
        assertMessage("RANK='x'", Map.of("RANK", "x", "WORLD_SIZE", "2", "MASTER_PORT", "1"));
        assertMessage("MASTER_PORT", Map.of("RANK", "0", "WORLD_SIZE", "2"));
        assertMessage("rank 4 is not within a world of 4", Map.of("RANK", "4", "WORLD_SIZE", "4", "MASTER_PORT", "1"));
    }

    private static void assertMessage(String part, Map<String, String> env) {
        DiffuseException e = assertThrows(DiffuseException.class, () -> RankEnvironment.from(env, "127.0.0.1", 0));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }
}
