package io.diffuse.launcher;

import static org.junit.Assert.assertEquals;

import java.util.List;
import org.junit.Test;

/** What `diffuse info` says of a JVM's start-up, read from its options as HotSpot reads them (the last one wins). */
public class JvmStartTest {
    @Test
    public void binDiffuseDefaults() {
        assertEquals("C1 only, class archive /c/classes-1-2.jsa", Main.jvmStart(List.of("-XX:TieredStopAtLevel=1",
                "-XX:SharedArchiveFile=/c/classes-1-2.jsa", "-Xlog:cds=off", "-Dio.diffuse.home=/x")));
    }

    @Test
    public void javaOptsComeLaterAndWin() {
        assertEquals("C1 and C2, class sharing off", Main.jvmStart(List.of("-XX:TieredStopAtLevel=1",
                "-XX:SharedArchiveFile=/c/a.jsa", "-XX:TieredStopAtLevel=4", "-Xshare:off")));
    }

    @Test
    public void plainJava() {
        assertEquals("C1 and C2, JDK class archive only", Main.jvmStart(List.of("-Dio.diffuse.home=/x")));
    }
}
