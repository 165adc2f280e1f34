package io.diffuse.api.vae;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import static org.bytedeco.pytorch.global.torch.cat;

/**
 * The spatial tiling of one VAE encode or decode, exactly as diffusers' {@code tiled_encode} and
 * {@code tiled_decode} do it (AutoencoderKLHunyuanVideo15 and its relatives): which tiles are cut
 * from the input, and how the per-tile outputs are blended, cropped and concatenated back into one
 * tensor. A value shared by every executor, so that a single-rank and a patch-parallel executor
 * produce the same bits.
 *
 * <p>Geometry, with tile edge {@code P} pixels, {@code L = P / c} latents ({@code c} the spatial
 * compression) and overlap factor {@code f} (all truncations are Python's {@code int()}):
 * <ul>
 *   <li>encode: tiles of {@code P} px start every {@code int(P(1-f))} px; outputs are blended over
 *       {@code int(L f)} latents and cropped to {@code L - int(L f)} latents;</li>
 *   <li>decode: tiles of {@code L} latents start every {@code int(L(1-f))} latents; outputs are
 *       blended over {@code int(P f)} px and cropped to {@code P - int(P f)} px.</li>
 * </ul>
 * Tiles run over the range {@code 0, stride, 2 stride, ... < size} on each axis (edge tiles are
 * smaller), rows outer and columns inner. There is no temporal tiling. The input is tiled only when
 * tiling is enabled and its height or width exceeds one tile; otherwise the plan has one tile that is
 * the whole input, as in diffusers.
 *
 * <p>Tensors are (B, C, T, H, W). Errors in the settings or in the input size are
 * {@link IllegalArgumentException}s that name the value and how to fix it.
 */
public final class TilePlan {
    /** Whether a plan cuts pixels (encode) or latents (decode). */
    public enum Direction {
        /** Pixels in, latents out. */
        ENCODE,
        /** Latents in, pixels out. */
        DECODE
    }

    /**
     * One tile of the input, in input units (pixels for encode, latents for decode).
     *
     * @param index position in row-major order, the order {@link #merge} expects outputs in
     * @param row tile row
     * @param column tile column
     * @param y first input row
     * @param x first input column
     * @param height input rows (edge tiles may be smaller than a full tile)
     * @param width input columns
     */
    public record Tile(int index, int row, int column, long y, long x, long height, long width) {
        /** This tile of a (B, C, T, H, W) input, as a view (no copy). */
        public Tensor cut(Tensor input) {
            return input.narrow(3, y, height).narrow(4, x, width);
        }
    }

    private final Direction direction;
    private final boolean tiled;
    private final long inputHeight;
    private final long inputWidth;
    private final int compression;
    private final int tileSize;
    private final int stride;
    private final int blendExtent;
    private final int keep;
    private final int rows;
    private final int columns;
    private final List<Tile> tiles;

    private TilePlan(Direction direction, long inputHeight, long inputWidth, TilingSettings settings,
            int compression) {
        if (compression < 1) {
            throw new IllegalArgumentException("spatial compression must be positive: " + compression);
        }
        if (inputHeight < 1 || inputWidth < 1) {
            throw new IllegalArgumentException("input height and width must be positive, got "
                    + inputHeight + "x" + inputWidth);
        }
        this.direction = direction;
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.compression = compression;
        if (direction == Direction.ENCODE && (inputHeight % compression != 0 || inputWidth % compression != 0)) {
            throw new IllegalArgumentException("input of " + inputHeight + "x" + inputWidth
                    + " px: height and width must be multiples of the spatial compression " + compression
                    + " (e.g. " + roundUp(inputHeight, compression) + "x" + roundUp(inputWidth, compression) + ")");
        }
        // Both directions are checked, so settings that work for decode but not encode fail either way.
        validate(settings, compression);
        Geometry g = settings.enabled() ? Geometry.of(direction, settings, compression) : null;
        this.tiled = g != null && (inputHeight > g.tileSize || inputWidth > g.tileSize);
        if (!tiled) {
            this.tileSize = (int) Math.max(inputHeight, inputWidth);
            this.stride = tileSize;
            this.blendExtent = 0;
            this.keep = (int) Math.max(outputSize(inputHeight), outputSize(inputWidth));
            this.rows = 1;
            this.columns = 1;
            this.tiles = List.of(new Tile(0, 0, 0, 0, 0, inputHeight, inputWidth));
            return;
        }
        this.tileSize = g.tileSize;
        this.stride = g.stride;
        this.blendExtent = g.blend;
        this.keep = g.keep;
        List<Tile> list = new ArrayList<>();
        int r = 0;
        int c = 0;
        for (long i = 0; i < inputHeight; i += stride, r++) {
            c = 0;
            for (long j = 0; j < inputWidth; j += stride, c++) {
                list.add(new Tile(list.size(), r, c, i, j, Math.min(tileSize, inputHeight - i),
                        Math.min(tileSize, inputWidth - j)));
            }
        }
        this.rows = r;
        this.columns = c;
        this.tiles = Collections.unmodifiableList(list);
    }

    /** Plans the encode of {@code height x width} pixels. */
    public static TilePlan encode(long height, long width, TilingSettings settings, int spatialCompression) {
        return new TilePlan(Direction.ENCODE, height, width, settings, spatialCompression);
    }

    /** Plans the decode of {@code latentHeight x latentWidth} latents. */
    public static TilePlan decode(long latentHeight, long latentWidth, TilingSettings settings,
            int spatialCompression) {
        return new TilePlan(Direction.DECODE, latentHeight, latentWidth, settings, spatialCompression);
    }

    /**
     * Checks that tiles cut with {@code settings} keep their edges on the latent grid for both encode
     * and decode: the tile size is a multiple of the compression, and the encode stride, the decode
     * stride and the kept part of each tile agree ({@code latent = sample / compression}). Settings
     * with tiling disabled are always valid.
     *
     * @throws IllegalArgumentException naming the offending value and a valid alternative
     */
    public static void validate(TilingSettings settings, int spatialCompression) {
        if (settings.enabled()) {
            Geometry.of(Direction.ENCODE, settings, spatialCompression);
            Geometry.of(Direction.DECODE, settings, spatialCompression);
        }
    }

    /** Encode or decode. */
    public Direction direction() {
        return direction;
    }

    /** Whether the input is cut into tiles; false means one tile that is the whole input. */
    public boolean tiled() {
        return tiled;
    }

    /** The tiles in row-major order. */
    public List<Tile> tiles() {
        return tiles;
    }

    /** Number of tile rows. */
    public int rows() {
        return rows;
    }

    /** Number of tile columns. */
    public int columns() {
        return columns;
    }

    /** Full tile edge in input units. */
    public int tileSize() {
        return tileSize;
    }

    /** Distance between tile starts in input units. */
    public int stride() {
        return stride;
    }

    /** Rows/columns of output blended between neighbouring tiles (output units). */
    public int blendExtent() {
        return blendExtent;
    }

    /** Rows/columns of each tile's output kept after blending (output units). */
    public int keep() {
        return keep;
    }

    /** Height of the input in input units. */
    public long inputHeight() {
        return inputHeight;
    }

    /** Width of the input in input units. */
    public long inputWidth() {
        return inputWidth;
    }

    /** Height of the merged output. */
    public long outputHeight() {
        return outputSize(inputHeight);
    }

    /** Width of the merged output. */
    public long outputWidth() {
        return outputSize(inputWidth);
    }

    /** Output height (or width) a tile of {@code inputSize} input rows produces. */
    public long outputSize(long inputSize) {
        return direction == Direction.ENCODE ? inputSize / compression : inputSize * compression;
    }

    /**
     * Merges per-tile outputs, given in {@link #tiles()} order, into the whole output: for each tile
     * in row-major order, blend the tile above into it ({@code blend_v}), then the tile to its left
     * ({@code blend_h}), both in place on the tile's output as diffusers does (so a tile serves as a
     * neighbour with its own blends already applied), crop it to {@link #keep()}, then concatenate
     * each row along W and the rows along H.
     *
     * <p>The tile outputs are modified in place. The returned tensor is new memory (or the single
     * output itself for an untiled plan) and belongs to the caller's {@link PointerScope}.
     *
     * @throws IllegalArgumentException if the number or the spatial size of the outputs is wrong
     */
    public Tensor merge(List<Tensor> outputs) {
        if (outputs.size() != tiles.size()) {
            throw new IllegalArgumentException("expected " + tiles.size() + " tile outputs, got " + outputs.size());
        }
        for (Tile t : tiles) {
            Tensor o = outputs.get(t.index());
            if (o.dim() != 5 || o.size(3) != outputSize(t.height()) || o.size(4) != outputSize(t.width())) {
                throw new IllegalArgumentException("tile " + t.index() + " (row " + t.row() + ", column "
                        + t.column() + ") output has shape " + shape(o) + "; expected (B, C, T, "
                        + outputSize(t.height()) + ", " + outputSize(t.width()) + ")");
            }
        }
        if (!tiled) {
            return outputs.get(0);
        }
        // The result outlives the inner scope: it is handed to the caller's scope (or to the caller).
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope scope = new PointerScope()) {
            TensorVector rowTensors = new TensorVector();
            for (int i = 0; i < rows; i++) {
                TensorVector rowParts = new TensorVector();
                for (int j = 0; j < columns; j++) {
                    Tensor tile = outputs.get(i * columns + j);
                    if (i > 0) {
                        blendVertical(outputs.get((i - 1) * columns + j), tile, blendExtent);
                    }
                    if (j > 0) {
                        blendHorizontal(outputs.get(i * columns + j - 1), tile, blendExtent);
                    }
                    // tile[:, :, :, :keep, :keep] (Python slicing clamps at the edge)
                    rowParts.push_back(tile.narrow(3, 0, Math.min(keep, tile.size(3)))
                            .narrow(4, 0, Math.min(keep, tile.size(4))));
                }
                rowTensors.push_back(cat(rowParts, 4));
            }
            result = cat(rowTensors, 3);
            if (outer != null) {
                outer.attach(result);
            } else {
                result.retainReference();
            }
        }
        return result;
    }

    /**
     * diffusers' {@code blend_v}: with {@code e = min(a.H, b.H, extent)}, for each row {@code y < e},
     * {@code b[..., y, :] = a[..., y - e, :] * (1 - y/e) + b[..., y, :] * (y/e)}, in place on {@code b}.
     */
    public static void blendVertical(Tensor a, Tensor b, int extent) {
        blend(a, b, extent, 3);
    }

    /** diffusers' {@code blend_h}: {@link #blendVertical} along W. */
    public static void blendHorizontal(Tensor a, Tensor b, int extent) {
        blend(a, b, extent, 4);
    }

    private static void blend(Tensor a, Tensor b, int extent, int dim) {
        long e = Math.min(Math.min(a.size(dim), b.size(dim)), extent);
        long aSize = a.size(dim);
        try (PointerScope scope = new PointerScope()) {
            for (long y = 0; y < e; y++) {
                // Same scalar arithmetic as Python: weights are doubles, applied per row, so the bits match.
                double w = (double) y / e;
                Tensor bRow = b.narrow(dim, y, 1);
                Tensor mixed = a.narrow(dim, aSize - e + y, 1).mul(new Scalar(1 - w)).add(bRow.mul(new Scalar(w)));
                bRow.copy_(mixed);
            }
        }
    }

    private static long roundUp(long v, int m) {
        return (v + m - 1) / m * m;
    }

    private static String shape(Tensor t) {
        StringBuilder sb = new StringBuilder("(");
        for (int d = 0; d < t.dim(); d++) {
            sb.append(d > 0 ? ", " : "").append(t.size(d));
        }
        return sb.append(')').toString();
    }

    /** Tile size, stride, blend and crop of one direction, checked for latent-grid consistency. */
    private record Geometry(int tileSize, int stride, int blend, int keep) {
        static Geometry of(Direction direction, TilingSettings s, int c) {
            int sample = s.tileSampleSize();
            double f = s.overlap();
            if (sample % c != 0) {
                throw new IllegalArgumentException("VAE tile size " + sample + " px is not a multiple of the spatial"
                        + " compression " + c + "; use a multiple such as " + Math.max(c, sample / c * c) + " px");
            }
            int latent = sample / c;
            if (direction == Direction.ENCODE) {
                int stridePx = (int) (sample * (1 - f));
                int blend = (int) (latent * f);
                int keep = latent - blend;
                if (stridePx < 1 || stridePx % c != 0 || stridePx / c != keep) {
                    throw new IllegalArgumentException("VAE tile size " + sample + " px with overlap " + f
                            + " breaks the latent grid when encoding: tiles start every " + stridePx
                            + " px but each keeps " + keep + " latents (" + keep * c + " px); choose an overlap"
                            + " that is a multiple of 1/" + latent + " (e.g. 0.25 for a tile of a multiple of "
                            + 4 * c + " px)");
                }
                return new Geometry(sample, stridePx, blend, keep);
            }
            int strideLatent = (int) (latent * (1 - f));
            int blend = (int) (sample * f);
            int keep = sample - blend;
            if (strideLatent < 1 || (long) strideLatent * c != keep) {
                throw new IllegalArgumentException("VAE tile size " + sample + " px with overlap " + f
                        + " breaks the latent grid when decoding: tiles start every " + strideLatent
                        + " latents (" + (long) strideLatent * c + " px) but each keeps " + keep
                        + " px; choose an overlap that is a multiple of 1/" + latent
                        + " (e.g. 0.25 for a tile of a multiple of " + 4 * c + " px)");
            }
            return new Geometry(latent, strideLatent, blend, keep);
        }
    }
}
