package io.diffuse.distribution;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import io.diffuse.launcher.OwnedTempFolders;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.Test;

/** The integration tests' deploy folders: named by pid, and those of test JVMs that are gone are removed. */
public class DeployFolderTest {
    @Test
    public void anOrphanedDeployFolderIsRemovedWhenTheNextOneIsMade() throws Exception {
        Process exited = new ProcessBuilder("true").start();
        exited.waitFor();
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        Path orphan = Files.createDirectory(tmp.resolve(OsgiTestSupport.DEPLOY_PREFIX + exited.pid() + "-42"));
        Files.writeString(orphan.resolve("io.diffuse.engine.cfg"), "diffuse.parallel.strategy = ring\n");
        Path deploy = OsgiTestSupport.deployFolder();
        try {
            assertFalse(Files.exists(orphan));
            assertTrue(deploy.getFileName().toString().startsWith(OsgiTestSupport.DEPLOY_PREFIX + ProcessHandle.current().pid() + "-"));
        } finally {
            OwnedTempFolders.deleteTree(deploy);
            OwnedTempFolders.deleteTree(orphan);
        }
    }
}
