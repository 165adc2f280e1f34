package io.diffuse.core.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Exit descriptions and port picking; the launch itself is exercised by CommCheckCommandTest. */
class LocalLauncherTest {
    @Test
    void describesSignalsAndExitCodes() {
        assertEquals("rank 2 was killed by signal 9 (SIGKILL, exit code 137)", LocalLauncher.describeExit(2, 137));
        assertEquals("rank 0 was killed by signal 15 (SIGTERM, exit code 143)", LocalLauncher.describeExit(0, 143));
        assertEquals("rank 1 exited with code 1", LocalLauncher.describeExit(1, 1));
    }

    @Test
    void picksAFreePort() {
        int port = LocalLauncher.freePort("127.0.0.1");
        assertTrue(port > 0 && port < 65536);
    }
}
