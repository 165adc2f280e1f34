package io.diffuse.core.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The serve output folder without configuration is the user's own (XDG base directories), never a shared one. */
class DefaultOutputDirTest {
    @Test
    void xdgDataHomeThenTheHomeFolderThenAPerUserTemporaryFolder() {
        assertEquals(Path.of("/data/alice", "diffuse", "serve"),
                ServeSettings.defaultOutputDir(Map.of("XDG_DATA_HOME", "/data/alice"), "/home/alice"));
        // A relative XDG_DATA_HOME is to be ignored (the specification).
        assertEquals(Path.of("/home/alice", ".local", "share", "diffuse", "serve"),
                ServeSettings.defaultOutputDir(Map.of("XDG_DATA_HOME", "relative"), "/home/alice"));
        assertEquals(Path.of("/home/alice", ".local", "share", "diffuse", "serve"),
                ServeSettings.defaultOutputDir(Map.of(), "/home/alice"));
        Path noHome = ServeSettings.defaultOutputDir(Map.of(), "?");
        assertTrue(noHome.getFileName().toString().equals("diffuse-serve-" + System.getProperty("user.name")), noHome.toString());
    }
}
