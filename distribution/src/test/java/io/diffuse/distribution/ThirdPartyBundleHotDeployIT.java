package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * A third-party bundle written against engine-api alone (not shipped), dropped into deploy/, shows
 * up in the registry and in {@code diffuse info} with its bundle; removed, it goes away.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ThirdPartyBundleHotDeployIT extends OsgiTestSupport {

    @Test
    public void droppedIntoDeployShowsUpInRegistryAndInfo() throws Exception {
        Path jar = TestBundles.thirdParty();
        String bsn = TestBundles.symbolicName(jar);
        assertFalse("not installed before it is deployed", strategyInstalled("allgather"));
        assertFalse(cli("info").out().contains("[" + bsn));

        Path deployed = deployDir().resolve(jar.getFileName());
        Files.copy(jar, deployed, StandardCopyOption.REPLACE_EXISTING);
        await(bsn + " picked up from deploy/", () -> strategyInstalled("allgather"));
        assertTrue(registry.strategies().stream().anyMatch(i -> i.name().equals("allgather") && i.origin().startsWith(bsn + " ")));

        CliRun info = cli("info");
        assertEquals(info.err(), 0, info.exitCode());
        String line = info.out().lines().filter(l -> l.trim().startsWith("allgather")).findFirst()
                .orElseThrow(() -> new AssertionError("info lists no allgather strategy:\n" + info.out()));
        assertTrue(line, line.contains("[" + bsn + " "));

        Files.delete(deployed);
        await(bsn + " removed with its file", () -> !strategyInstalled("allgather"));
        assertFalse(cli("info").out().contains("[" + bsn));
    }
}
