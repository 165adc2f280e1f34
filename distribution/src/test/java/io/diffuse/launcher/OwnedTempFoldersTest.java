package io.diffuse.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Folders named after their owning process; those of processes that are gone are removed. */
public class OwnedTempFoldersTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void removesOnlyTheFoldersOfProcessesThatAreGone() throws Exception {
        Path parent = tmp.getRoot().toPath();
        Process exited = new ProcessBuilder("true").start();
        exited.waitFor();
        Process running = new ProcessBuilder("sleep", "30").start();
        try {
            Path mine = OwnedTempFolders.create(parent, "diffuse-felix-");
            assertTrue(mine.getFileName().toString().startsWith("diffuse-felix-" + ProcessHandle.current().pid() + "-"));
            Path orphan = Files.createDirectories(parent.resolve("diffuse-felix-" + exited.pid() + "-123/bundle1/data"));
            Files.writeString(orphan.resolve("file"), "left by a killed rank");
            Path live = Files.createDirectory(parent.resolve("diffuse-felix-" + running.pid() + "-456"));
            Path noPid = Files.createDirectory(parent.resolve("diffuse-felix-789"));
            Path other = Files.createDirectory(parent.resolve("diffuse-it-deploy-" + exited.pid() + "-1"));

            List<Path> removed = OwnedTempFolders.removeOrphans(parent, "diffuse-felix-");

            assertEquals(List.of(parent.resolve("diffuse-felix-" + exited.pid() + "-123")), removed);
            assertFalse(Files.exists(parent.resolve("diffuse-felix-" + exited.pid() + "-123")));
            assertTrue(Files.isDirectory(mine) && Files.isDirectory(live) && Files.isDirectory(noPid) && Files.isDirectory(other));
        } finally {
            running.destroyForcibly();
        }
    }
}
