package io.diffuse.hunyuan15.image;

/**
 * Pillow's {@code Image.resize(size, Image.LANCZOS)} for 8-bit channels, reproduced bit for bit from
 * Pillow's {@code libImaging/Resample.c}: a separable Lanczos-3 filter (support 3, widened by the scale
 * when shrinking), coefficients computed in double, normalised to sum 1, then quantised to fixed point
 * with 22 fractional bits; a horizontal pass into an 8-bit intermediate over just the rows the vertical
 * pass needs, then a vertical pass. A pass whose size does not change is skipped, as in Pillow.
 *
 * <p>Images are interleaved 8-bit pixels: {@code channels} bytes per pixel, rows packed.
 */
public final class LanczosResampler {

    /** Fixed-point fraction bits of Pillow's 8-bit resampling ({@code 32 - 8 - 2}). */
    static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double SUPPORT = 3.0;

    private LanczosResampler() {
    }

    /**
     * Resizes an interleaved 8-bit image.
     *
     * @param in the source pixels, {@code inHeight * inWidth * channels} bytes
     * @param inWidth source width
     * @param inHeight source height
     * @param channels bytes per pixel (3 for RGB)
     * @param outWidth target width, 1 or more
     * @param outHeight target height, 1 or more
     * @return the resized pixels, {@code outHeight * outWidth * channels} bytes
     */
    public static byte[] resize(byte[] in, int inWidth, int inHeight, int channels, int outWidth, int outHeight) {
        if (outWidth < 1 || outHeight < 1 || inWidth < 1 || inHeight < 1) {
            throw new IllegalArgumentException("image sizes must be positive: " + inWidth + "x" + inHeight + " -> "
                    + outWidth + "x" + outHeight);
        }
        Coefficients horiz = Coefficients.of(inWidth, outWidth);
        Coefficients vert = Coefficients.of(inHeight, outHeight);
        boolean needHorizontal = outWidth != inWidth;
        boolean needVertical = outHeight != inHeight;
        byte[] image = in;
        int height = inHeight;
        if (needHorizontal) {
            // Only the rows the vertical pass reads: [first bound, last bound end).
            int yFirst = vert.bounds[0];
            int yLast = vert.bounds[(outHeight - 1) * 2] + vert.bounds[(outHeight - 1) * 2 + 1];
            if (!needVertical) {
                yFirst = 0;
                yLast = inHeight;
            }
            image = horizontal(image, inWidth, channels, yFirst, yLast - yFirst, horiz, outWidth);
            height = yLast - yFirst;
            if (needVertical) {
                vert = vert.shifted(yFirst);
            }
        }
        if (needVertical) {
            image = vertical(image, needHorizontal ? outWidth : inWidth, channels, vert, outHeight);
        }
        if (image == in) {
            image = in.clone();
        }
        return image;
    }

    private static byte[] horizontal(byte[] in, int inWidth, int channels, int yOffset, int rows, Coefficients c,
            int outWidth) {
        byte[] out = new byte[rows * outWidth * channels];
        for (int y = 0; y < rows; y++) {
            int inRow = (y + yOffset) * inWidth * channels;
            int outRow = y * outWidth * channels;
            for (int x = 0; x < outWidth; x++) {
                int xmin = c.bounds[x * 2];
                int xmax = c.bounds[x * 2 + 1];
                int k = x * c.ksize;
                for (int ch = 0; ch < channels; ch++) {
                    int ss = 1 << (PRECISION_BITS - 1); // rounding half
                    for (int i = 0; i < xmax; i++) {
                        ss += (in[inRow + (xmin + i) * channels + ch] & 0xff) * c.fixed[k + i];
                    }
                    out[outRow + x * channels + ch] = clip8(ss);
                }
            }
        }
        return out;
    }

    private static byte[] vertical(byte[] in, int width, int channels, Coefficients c, int outHeight) {
        int rowBytes = width * channels;
        byte[] out = new byte[outHeight * rowBytes];
        for (int y = 0; y < outHeight; y++) {
            int ymin = c.bounds[y * 2];
            int ymax = c.bounds[y * 2 + 1];
            int k = y * c.ksize;
            for (int i = 0; i < rowBytes; i++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int j = 0; j < ymax; j++) {
                    ss += (in[(ymin + j) * rowBytes + i] & 0xff) * c.fixed[k + j];
                }
                out[y * rowBytes + i] = clip8(ss);
            }
        }
        return out;
    }

    /** Pillow's {@code clip8}: fixed point to 0..255 with truncation of the (already half-added) fraction. */
    static byte clip8(int in) {
        if (in >= (1 << PRECISION_BITS << 8)) {
            return (byte) 255;
        }
        if (in <= 0) {
            return 0;
        }
        return (byte) (in >> PRECISION_BITS);
    }

    static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        x = x * Math.PI;
        return Math.sin(x) / x;
    }

    /** Pillow's {@code lanczos_filter}: a sinc windowed by sinc(x/3), zero outside [-3, 3). */
    static double lanczos(double x) {
        if (-3.0 <= x && x < 3.0) {
            return sinc(x) * sinc(x / 3);
        }
        return 0.0;
    }

    /** Pillow's {@code precompute_coeffs} + {@code normalize_coeffs_8bpc} for one axis, box (0, inSize). */
    static final class Coefficients {
        final int ksize;
        final int[] bounds; // per output pixel: first input index, count
        final int[] fixed; // ksize per output pixel, fixed point

        private Coefficients(int ksize, int[] bounds, int[] fixed) {
            this.ksize = ksize;
            this.bounds = bounds;
            this.fixed = fixed;
        }

        static Coefficients of(int inSize, int outSize) {
            float in0 = 0f;
            float in1 = inSize;
            double scale = (double) (in1 - in0) / outSize;
            double filterscale = scale < 1.0 ? 1.0 : scale;
            double support = SUPPORT * filterscale;
            int ksize = (int) Math.ceil(support) * 2 + 1;
            int[] bounds = new int[outSize * 2];
            double[] kk = new double[outSize * ksize];
            for (int xx = 0; xx < outSize; xx++) {
                double center = in0 + (xx + 0.5) * scale;
                double ww = 0.0;
                double ss = 1.0 / filterscale;
                int xmin = (int) (center - support + 0.5); // C cast: truncation toward zero
                if (xmin < 0) {
                    xmin = 0;
                }
                int xmax = (int) (center + support + 0.5);
                if (xmax > inSize) {
                    xmax = inSize;
                }
                xmax -= xmin;
                int k = xx * ksize;
                for (int x = 0; x < xmax; x++) {
                    double w = lanczos((x + xmin - center + 0.5) * ss);
                    kk[k + x] = w;
                    ww += w;
                }
                for (int x = 0; x < xmax; x++) {
                    if (ww != 0.0) {
                        kk[k + x] /= ww;
                    }
                }
                bounds[xx * 2] = xmin;
                bounds[xx * 2 + 1] = xmax;
            }
            int[] fixed = new int[kk.length];
            for (int i = 0; i < kk.length; i++) {
                fixed[i] = kk[i] < 0 ? (int) (-0.5 + kk[i] * (1 << PRECISION_BITS))
                        : (int) (0.5 + kk[i] * (1 << PRECISION_BITS));
            }
            return new Coefficients(ksize, bounds, fixed);
        }

        /** The same coefficients with input indices relative to {@code first} (the intermediate's first row). */
        Coefficients shifted(int first) {
            int[] b = bounds.clone();
            for (int i = 0; i < b.length; i += 2) {
                b[i] -= first;
            }
            return new Coefficients(ksize, b, fixed);
        }
    }
}
