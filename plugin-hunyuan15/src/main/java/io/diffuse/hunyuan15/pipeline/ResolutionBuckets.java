package io.diffuse.hunyuan15.pipeline;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/**
 * The HunyuanVideo 1.5 resolution buckets ({@code generate_crop_size_list} and
 * {@code get_closest_ratio} of diffusers' {@code image_processor.py}, copied there from the official
 * {@code hyvideo/utils/data_utils.py}): sizes of about {@code target_size^2} pixels in 16-pixel
 * patches with aspect ratios up to 4, and the bucket a given height and width fall into.
 */
public final class ResolutionBuckets {
    private ResolutionBuckets() {
    }

    /** {@code generate_crop_size_list(base_size, patch_size, max_ratio)}: (first, second) pairs, first used as height. */
    public static List<int[]> generateCropSizeList(int baseSize, int patchSize, double maxRatio) {
        long numPatches = Math.round(Math.pow((double) baseSize / patchSize, 2));
        List<int[]> sizes = new ArrayList<>();
        long wp = numPatches;
        long hp = 1;
        while (wp > 0) {
            if ((double) Math.max(wp, hp) / Math.min(wp, hp) <= maxRatio) {
                sizes.add(new int[] {(int) (wp * patchSize), (int) (hp * patchSize)});
            }
            if ((hp + 1) * wp <= numPatches) {
                hp += 1;
            } else {
                wp -= 1;
            }
        }
        return sizes;
    }

    /**
     * {@code calculate_default_height_width(height, width, target_size)}: the bucket (height, width)
     * for an input of the given size. Landscape inputs pick among buckets at least as wide, portrait
     * inputs among buckets at least as tall; the closest aspect ratio (rounded to 5 decimals) wins,
     * the first on ties.
     */
    public static int[] closest(double height, double width, int targetSize, int patchSize) {
        List<int[]> buckets = generateCropSizeList(targetSize, patchSize, 4.0);
        double aspect = height / width;
        int best = -1;
        double bestAbs = Double.POSITIVE_INFINITY;
        for (int i = 0; i < buckets.size(); i++) {
            double ratio = round5((double) buckets.get(i)[0] / buckets.get(i)[1]);
            double diff = ratio - aspect;
            boolean allowed = aspect >= 1 ? diff <= 0 : diff >= 0;
            if (allowed && Math.abs(diff) < bestAbs) {
                best = i;
                bestAbs = Math.abs(diff);
            }
        }
        return buckets.get(best).clone();
    }

    /** Python's {@code round(x, 5)} (correctly rounded from the exact binary value). */
    private static double round5(double x) {
        return new BigDecimal(x).setScale(5, RoundingMode.HALF_EVEN).doubleValue();
    }
}
