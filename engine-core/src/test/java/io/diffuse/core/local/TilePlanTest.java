package io.diffuse.core.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TilingSettings;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Tile geometry and merge arithmetic of {@link TilePlan}, against values worked out from diffusers' code. */
class TilePlanTest {
    private static final TilingSettings DEFAULTS = TilingSettings.defaults(true);

    @Test
    void decode480pUsesDiffusersStartsAndCrops() {
        // 848x480 -> latent 30x53; diffusers: stride int(16*0.75)=12, blend int(256*0.25)=64, keep 192
        TilePlan plan = TilePlan.decode(30, 53, DEFAULTS, 16);
        assertTrue(plan.tiled());
        assertEquals(12, plan.stride());
        assertEquals(64, plan.blendExtent());
        assertEquals(192, plan.keep());
        assertEquals(3, plan.rows()); // 0, 12, 24
        assertEquals(5, plan.columns()); // 0, 12, 24, 36, 48
        TilePlan.Tile last = plan.tiles().get(plan.tiles().size() - 1);
        assertEquals(24, last.y());
        assertEquals(48, last.x());
        assertEquals(6, last.height());
        assertEquals(5, last.width());
        assertEquals(480, plan.outputHeight());
        assertEquals(848, plan.outputWidth());
    }

    @Test
    void encodeUsesPixelStrideAndLatentBlend() {
        TilePlan plan = TilePlan.encode(480, 848, DEFAULTS, 16);
        assertEquals(192, plan.stride());
        assertEquals(4, plan.blendExtent());
        assertEquals(12, plan.keep());
        assertEquals(3, plan.rows()); // 0, 192, 384
        assertEquals(5, plan.columns()); // 0 .. 768
        assertEquals(30, plan.outputHeight());
        assertEquals(53, plan.outputWidth());
    }

    @Test
    void inputThatFitsOneTileIsNotTiled() {
        assertFalse(TilePlan.encode(256, 256, DEFAULTS, 16).tiled());
        assertTrue(TilePlan.encode(256, 272, DEFAULTS, 16).tiled());
        assertFalse(TilePlan.decode(16, 16, DEFAULTS, 16).tiled());
        TilePlan off = TilePlan.decode(30, 53, TilingSettings.defaults(false), 16);
        assertFalse(off.tiled());
        assertEquals(1, off.tiles().size());
    }

    @Test
    void tileSizeNotMultipleOfCompressionIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TilePlan.decode(30, 53, new TilingSettings(true, 200, 0.25), 16));
        assertTrue(e.getMessage().contains("200 px is not a multiple of the spatial compression 16"), e.getMessage());
    }

    @Test
    void overlapThatBreaksTheLatentGridIsRejected() {
        // 64 px * 0.8 = 51 px stride: tile edges fall between latents
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TilePlan.encode(128, 128, new TilingSettings(true, 64, 0.2), 16));
        assertTrue(e.getMessage().contains("breaks the latent grid when encoding"), e.getMessage());
        assertTrue(e.getMessage().contains("51 px"), e.getMessage());
    }

    @Test
    void pixelSizeNotMultipleOfCompressionIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TilePlan.encode(100, 128, DEFAULTS, 16));
        assertTrue(e.getMessage().contains("multiples of the spatial compression 16"), e.getMessage());
    }

    @Test
    void mergeBlendsInPlaceInDiffusersOrder() {
        // decode, 1 latent per tile row/column stride, tile 2 latents (32 px), blend 16 px, keep 16 px
        TilingSettings s = new TilingSettings(true, 32, 0.5);
        TilePlan plan = TilePlan.decode(1, 3, s, 16);
        assertEquals(3, plan.tiles().size());
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> outs = new ArrayList<>();
            for (TilePlan.Tile t : plan.tiles()) {
                // constant tiles 1, 2, 3 of their output size
                outs.add(torch.ones(1, 1, 1, plan.outputSize(t.height()), plan.outputSize(t.width()))
                        .mul(new org.bytedeco.pytorch.Scalar((double) (t.index() + 1))));
            }
            Tensor merged = plan.merge(outs);
            assertEquals(16, merged.size(3));
            assertEquals(48, merged.size(4));
            // column x of tile 1 (x < 16): a=1 weight 1-x/16, b=2 weight x/16
            assertEquals(1.0f, merged.select(4, 16).max().item_float(), 0f);
            assertEquals(1 + 8 / 16.0f, merged.select(4, 24).max().item_float(), 1e-6f);
            // tile 2 blends against tile 1's last 16 columns (value 2)
            assertEquals(2.0f, merged.select(4, 32).max().item_float(), 0f);
            assertEquals(2 + 8 / 16.0f, merged.select(4, 40).max().item_float(), 1e-6f);
        }
    }

    @Test
    void mergeRejectsWrongTileOutput() {
        TilePlan plan = TilePlan.decode(1, 3, new TilingSettings(true, 32, 0.5), 16);
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> outs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                outs.add(torch.zeros(1, 1, 1, 16, 16));
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> plan.merge(outs));
            assertTrue(e.getMessage().contains("tile 0"), e.getMessage());
        }
    }
}
