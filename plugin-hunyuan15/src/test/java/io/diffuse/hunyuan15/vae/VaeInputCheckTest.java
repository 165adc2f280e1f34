package io.diffuse.hunyuan15.vae;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each bad input shape is rejected with a message naming the dimension and valid values. */
class VaeInputCheckTest {
    private static final HunyuanVideo15VaeConfig CONFIG = HunyuanVideo15VaeConfig.fromJson(
            Map.of("latent_channels", 4, "block_out_channels", List.of(4, 8, 16, 32, 32)));
    private PointerScope scope;

    @BeforeEach
    void open() {
        scope = new PointerScope();
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private static String reject(Tensor t, boolean encode) {
        return assertThrows(IllegalArgumentException.class,
                () -> AutoencoderKLHunyuanVideo15.checkInput(CONFIG, t, encode)).getMessage();
    }

    @Test
    void validShapesPass() {
        assertDoesNotThrow(() -> AutoencoderKLHunyuanVideo15.checkInput(CONFIG, torch.zeros(1, 3, 9, 32, 48), true));
        assertDoesNotThrow(() -> AutoencoderKLHunyuanVideo15.checkInput(CONFIG, torch.zeros(2, 3, 1, 16, 16), true));
        assertDoesNotThrow(() -> AutoencoderKLHunyuanVideo15.checkInput(CONFIG, torch.zeros(1, 4, 2, 3, 5), false));
    }

    @Test
    void framesNotFourKPlusOne() {
        String m = reject(torch.zeros(1, 3, 6, 32, 32), true);
        assertTrue(m.contains("6 frames") && m.contains("4k+1") && m.contains("e.g. 5 or 9"), m);
    }

    @Test
    void heightNotMultipleOf16() {
        String m = reject(torch.zeros(1, 3, 5, 40, 32), true);
        assertTrue(m.contains("40x32 px") && m.contains("multiples of 16") && m.contains("48x32"), m);
    }

    @Test
    void widthNotMultipleOf16() {
        String m = reject(torch.zeros(1, 3, 5, 32, 20), true);
        assertTrue(m.contains("32x20 px") && m.contains("multiples of 16"), m);
    }

    @Test
    void wrongPixelChannels() {
        String m = reject(torch.zeros(1, 4, 5, 32, 32), true);
        assertTrue(m.contains("4 channels") && m.contains("takes 3"), m);
    }

    @Test
    void wrongLatentChannels() {
        String m = reject(torch.zeros(1, 32, 2, 4, 4), false);
        assertTrue(m.contains("32 channels") && m.contains("latents have 4"), m);
    }

    @Test
    void notFiveDimensional() {
        String m = reject(torch.zeros(3, 32, 32), true);
        assertTrue(m.contains("5 dimensions (B, C, T, H, W)"), m);
    }

    @Test
    void badConfigNamesTheField() {
        DiffuseException e = assertThrows(DiffuseException.class, () -> HunyuanVideo15VaeConfig.fromJson(
                Map.of("latent_channels", 4, "block_out_channels", List.of(4, 8, 16))));
        assertTrue(e.getMessage().contains("block_out_channels") && e.getMessage().contains("at least 5"),
                e.getMessage());
        e = assertThrows(DiffuseException.class, () -> HunyuanVideo15VaeConfig.fromJson(
                Map.of("spatial_compression_ratio", 12)));
        assertTrue(e.getMessage().contains("spatial_compression_ratio must be a power of two"), e.getMessage());
    }

    @Test
    void expectedKeysMirrorDiffusers() {
        Map<String, long[]> keys = AutoencoderKLHunyuanVideo15.expectedKeys(CONFIG);
        assertTrue(keys.containsKey("encoder.down_blocks.3.downsamplers.0.conv.conv.weight"));
        assertTrue(keys.containsKey("encoder.mid_block.attentions.0.to_q.weight"));
        assertTrue(keys.containsKey("decoder.up_blocks.4.resnets.2.norm2.gamma"));
        assertTrue(!keys.containsKey("decoder.up_blocks.4.upsamplers.0.conv.conv.weight"));
    }
}
