package io.diffuse.hunyuan15.transformer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The released 8.3B configuration checked by name and shape against diffusers, without allocating weights. */
class HunyuanVideo15TransformerConfigTest {
    /** "name key d0,d1,..." lines written by gen_transformer.py from diffusers models built on the meta device. */
    private static Map<String, String> diffusersShapes(String variant) throws IOException {
        Map<String, String> out = new TreeMap<>();
        for (String line : Files.readAllLines(HunyuanVideo15TransformerGoldenTest.fixtures().resolve("released_shapes.txt"))) {
            String[] parts = line.split(" ");
            if (parts[0].equals(variant)) {
                out.put(parts[1], parts[2]);
            }
        }
        return out;
    }

    private static Map<String, String> ours(HunyuanVideo15TransformerConfig c) {
        Map<String, String> out = new TreeMap<>();
        c.expectedShapes().forEach((k, v) -> out.put(k, String.join(",", Arrays.stream(v).mapToObj(Long::toString).toList())));
        return out;
    }

    @Test
    void releasedConfigMatchesDiffusersKeyForKey() throws IOException {
        HunyuanVideo15TransformerConfig released = HunyuanVideo15TransformerConfig.released();
        assertEquals(1801, released.expectedShapes().size());
        assertEquals(8_326_608_160L, released.parameterCount());
        assertEquals(diffusersShapes("released"), ours(released));
        HunyuanVideo15TransformerConfig meanflow = HunyuanVideo15TransformerConfig.fromMap(Map.of("use_meanflow", true));
        assertEquals(8_331_330_848L, meanflow.parameterCount());
        assertEquals(diffusersShapes("released_meanflow"), ours(meanflow));
    }

    @Test
    void invalidConfigsAreNamed() {
        DiffuseException rope = assertThrows(DiffuseException.class,
                () -> HunyuanVideo15TransformerConfig.fromMap(Map.of("rope_axes_dim", java.util.List.of(16, 56, 54))));
        assertTrue(rope.getMessage().contains("rope_axes_dim"), rope.getMessage());
        DiffuseException type = assertThrows(DiffuseException.class,
                () -> HunyuanVideo15TransformerConfig.fromMap(Map.of("num_layers", "many")));
        assertTrue(type.getMessage().contains("'num_layers'"), type.getMessage());
        DiffuseException norm = assertThrows(DiffuseException.class,
                () -> HunyuanVideo15TransformerConfig.fromMap(Map.of("qk_norm", "layer_norm")));
        assertTrue(norm.getMessage().contains("qk_norm"), norm.getMessage());
    }

    @Test
    void aNegativeSizeIsNamedWithItsValue() {
        // The record used to describe itself before its fields were set, so every size read 0.
        DiffuseException e = assertThrows(DiffuseException.class,
                () -> HunyuanVideo15TransformerConfig.fromMap(Map.of("num_layers", -2)));
        assertEquals("invalid transformer config: num_layers is -2; it must be 0 or more", e.getMessage());
    }
}
