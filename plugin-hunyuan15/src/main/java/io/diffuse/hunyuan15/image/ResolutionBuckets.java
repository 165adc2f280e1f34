package io.diffuse.hunyuan15.image;

import io.diffuse.api.DiffuseException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/**
 * Resolution buckets of HunyuanVideo 1.5, as diffusers' {@code hunyuan_video1_5/image_processor.py}:
 * {@code generate_crop_size_list}, {@code get_closest_ratio} and
 * {@code HunyuanVideo15ImageProcessor.calculate_default_height_width}. For T2V the pipeline asks for the
 * bucket of a 9:16 (h:w) input, e.g. 480x848 at target size 640; for I2V, of the image's own size.
 */
public final class ResolutionBuckets {

    /** A bucket, in pixels. */
    public record Size(int height, int width) {
        @Override
        public String toString() {
            return height + "x" + width;
        }
    }

    private ResolutionBuckets() {
    }

    /**
     * {@code generate_crop_size_list(base_size, patch_size, max_ratio)}: every (a, b) multiple of the
     * patch with at most {@code (base/patch)^2} patches and aspect at most {@code maxRatio}, in the order
     * diffusers generates them (that order breaks ties in {@link #closest}). diffusers reads each pair as
     * (height, width).
     *
     * @param baseSize the target size, e.g. 640
     * @param patchSize the VAE spatial factor, 16
     * @param maxRatio the largest aspect ratio, 4
     * @return the buckets
     */
    public static List<Size> cropSizeList(int baseSize, int patchSize, double maxRatio) {
        if (baseSize < patchSize || patchSize < 1 || maxRatio < 1.0) {
            throw new DiffuseException("resolution buckets need target size >= patch size >= 1 and max ratio >= 1, got "
                    + baseSize + ", " + patchSize + ", " + maxRatio);
        }
        // round((base_size / patch_size) ** 2): Python's round is half-even.
        long numPatches = Math.round(Math.rint(Math.pow((double) baseSize / patchSize, 2)));
        List<Size> list = new ArrayList<>();
        long wp = numPatches;
        long hp = 1;
        while (wp > 0) {
            if ((double) Math.max(wp, hp) / Math.min(wp, hp) <= maxRatio) {
                list.add(new Size(Math.toIntExact(wp * patchSize), Math.toIntExact(hp * patchSize)));
            }
            if ((hp + 1) * wp <= numPatches) {
                hp += 1;
            } else {
                wp -= 1;
            }
        }
        return list;
    }

    /**
     * {@code calculate_default_height_width(height, width, target_size)} with patch 16 and max ratio 4:
     * the bucket whose aspect (h/w, rounded to 5 decimals) is closest to the input's, never wider than a
     * landscape input nor taller than a portrait one; the first such bucket on ties.
     *
     * @param height the input height (any unit; only the ratio matters)
     * @param width the input width
     * @param targetSize the model's target size (transformer config {@code target_size}, e.g. 640)
     * @return the bucket
     */
    public static Size closest(double height, double width, int targetSize) {
        return closest(height, width, cropSizeList(targetSize, 16, 4.0));
    }

    /**
     * {@code get_closest_ratio(height, width, ratios, buckets)} over {@code buckets}.
     *
     * @param height the input height
     * @param width the input width
     * @param buckets from {@link #cropSizeList}
     * @return the bucket
     */
    public static Size closest(double height, double width, List<Size> buckets) {
        if (!(height > 0) || !(width > 0)) {
            throw new DiffuseException("height and width must be positive to pick a resolution bucket, got "
                    + height + "x" + width);
        }
        double aspect = height / width;
        int best = -1;
        double bestDiff = Double.POSITIVE_INFINITY;
        for (int i = 0; i < buckets.size(); i++) {
            Size s = buckets.get(i);
            double diff = round5((double) s.height() / s.width()) - aspect;
            boolean allowed = aspect >= 1 ? diff <= 0 : diff >= 0;
            if (allowed && Math.abs(diff) < bestDiff) { // strict: min() keeps the first of equals
                best = i;
                bestDiff = Math.abs(diff);
            }
        }
        if (best < 0) {
            throw new DiffuseException("no resolution bucket fits aspect ratio " + height + ":" + width
                    + "; give --height and --width explicitly");
        }
        return buckets.get(best);
    }

    /** Python's {@code round(x, 5)}: correctly rounded from the double's exact value, ties to even. */
    static double round5(double x) {
        return new BigDecimal(x).setScale(5, RoundingMode.HALF_EVEN).doubleValue();
    }
}
