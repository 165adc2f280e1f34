package io.diffuse.core.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The container a video file's name asks for is the one written, or one line says why it cannot be. */
class VideoContainerTest {
    @TempDir
    Path dir;

    private static byte[] head(Path file, int n) throws Exception {
        return Arrays.copyOf(Files.readAllBytes(file), n);
    }

    private Path write(String name) {
        return new Mp4Writer(12).write(dir.resolve(name), 32, 32, 3, (i, rgb) -> Arrays.fill(rgb, (byte) (40 * i)));
    }

    @Test
    void theExtensionPicksTheContainer() throws Exception {
        byte[] avi = head(write("clip.avi"), 12);
        assertArrayEquals("RIFF".getBytes(), Arrays.copyOfRange(avi, 0, 4));
        assertArrayEquals("AVI ".getBytes(), Arrays.copyOfRange(avi, 8, 12));
        byte[] mkv = head(write("clip.mkv"), 4);
        assertArrayEquals(new byte[] {0x1a, 0x45, (byte) 0xdf, (byte) 0xa3}, mkv, "an EBML (Matroska) header");
        byte[] mp4 = head(write("clip.mp4"), 8);
        assertArrayEquals("ftyp".getBytes(), Arrays.copyOfRange(mp4, 4, 8));
    }

    @Test
    void aNameWithoutAContainerForTheCodecIsOneLineAndNoFile() {
        for (String name : new String[] {"clip.webm", "clip.png", "clip.nosuchformat"}) {
            DiffuseException e = assertThrows(DiffuseException.class, () -> write(name), name);
            assertTrue(e.getMessage().contains(name) && e.getMessage().contains(".mp4"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertFalse(Files.exists(dir.resolve(name)), name);
        }
    }
}
