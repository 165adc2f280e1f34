package io.diffuse.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Map;
import org.junit.Test;

public class SystemPackagesTest {
    @Test
    public void mavenVersionsBecomeOsgiVersions() {
        assertEquals("2.10.0.1_5_13", SystemPackages.toOsgi("2.10.0-1.5.13"));
        assertEquals("13.1.0.9_19-1_5_13", SystemPackages.toOsgi("13.1-9.19-1.5.13"));
        assertEquals("4.7.7", SystemPackages.toOsgi("4.7.7"));
        assertEquals("2.0.16", SystemPackages.toOsgi("2.0.16"));
    }

    @Test
    public void exportsEveryPresetPackageWithItsJarVersion() {
        Map<String, String> exports = SystemPackages.scan(System.getProperty("java.class.path"), SystemPackages.PREFIXES);
        assertEquals("2.10.0.1_5_13", exports.get("org.bytedeco.pytorch"));
        assertEquals("2.10.0.1_5_13", exports.get("org.bytedeco.pytorch.global"));
        assertEquals("1.5.13", exports.get("org.bytedeco.javacpp"));
        assertTrue(exports.toString(), exports.containsKey("org.bytedeco.javacpp.chrono"));
        assertTrue(exports.toString(), exports.containsKey("org.bytedeco.openblas.global"));
        // the MP4 writer in engine-core imports these
        for (String ffmpeg : new String[] {"global", "avcodec", "avformat", "avutil", "swscale"}) {
            assertEquals("8.0.1.1_5_13", exports.get("org.bytedeco.ffmpeg." + ffmpeg));
        }
        assertEquals("4.7.7", exports.get("picocli"));
        assertTrue(exports.get("org.slf4j").startsWith("2.0."));
    }
}
