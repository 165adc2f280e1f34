package io.diffuse.hunyuan15.image;

import io.diffuse.api.DiffuseException;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * SiglipImageProcessor's preprocessing (the PIL backend): resize to (height, width) with PIL's
 * BICUBIC resample, rescale by 1/255, normalize with mean and std. The resize re-implements
 * Pillow's ImagingResample for 8-bit images (separable antialiased cubic with a = -0.5, 22-bit fixed
 * point coefficients, horizontal pass rounded to 8 bits before the vertical pass) so the uint8 result
 * is the same as Pillow's.
 */
public final class SiglipImageProcessor {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private final int height;
    private final int width;
    private final double[] mean;
    private final double[] std;
    private final double rescale;

    /** A processor resizing to {@code height} x {@code width}, then (x * rescale - mean) / std per channel. */
    public SiglipImageProcessor(int height, int width, double rescale, double[] mean, double[] std) {
        this.height = height;
        this.width = width;
        this.rescale = rescale;
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** SigLIP's defaults at {@code size}: rescale 1/255, mean = std = 0.5. */
    public static SiglipImageProcessor siglip(int size) {
        return new SiglipImageProcessor(size, size, 1 / 255.0, new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5});
    }

    /** pixel_values (1, 3, height, width) fp32 of an RGB image given as uint8 (H, W, 3). */
    public Tensor preprocess(Tensor imageHwc) {
        if (imageHwc.dim() != 3 || imageHwc.size(2) != 3 || imageHwc.scalar_type().value != ScalarType.Byte.value) {
            throw new DiffuseException("image must be an RGB uint8 tensor of shape (H, W, 3); got shape "
                    + java.util.Arrays.toString(imageHwc.sizes().vec().get()) + " of " + imageHwc.scalar_type());
        }
        int h = (int) imageHwc.size(0);
        int w = (int) imageHwc.size(1);
        byte[] in = new byte[h * w * 3];
        Tensor c = imageHwc.contiguous();
        new BytePointer(c.data_ptr()).capacity(in.length).get(in);
        int[] resized = resize(in, h, w, height, width);
        float[] out = new float[3 * height * width];
        for (int ch = 0; ch < 3; ch++) {
            for (int i = 0; i < height * width; i++) {
                // numpy: float32(pixel) * scale then (x - mean) / std, in float32 as the processor's arrays are.
                float v = (float) (resized[i * 3 + ch] * (float) rescale);
                out[ch * height * width + i] = (float) ((v - (float) mean[ch]) / (float) std[ch]);
            }
        }
        Tensor t = torch.zeros(new long[] {1, 3, height, width}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Float));
        new FloatPointer(t.data_ptr()).capacity(out.length).put(out);
        return t;
    }

    /** Pillow's BICUBIC resize of interleaved RGB bytes (inH, inW, 3) to (outH, outW, 3), as ints 0..255. */
    static int[] resize(byte[] rgb, int inH, int inW, int outH, int outW) {
        int[] src = new int[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            src[i] = rgb[i] & 0xff;
        }
        Coeffs horiz = coeffs(inW, outW);
        Coeffs vert = coeffs(inH, outH);
        boolean needH = outW != inW;
        boolean needV = outH != inH;
        int[] cur = src;
        int curH = inH;
        int curW = inW;
        int rowOffset = 0;
        if (needH) {
            // Only the rows the vertical pass reads (Pillow's ybox_first..ybox_last).
            int first = needV ? vert.bounds[0] : 0;
            int last = needV ? vert.bounds[(outH - 1) * 2] + vert.bounds[(outH - 1) * 2 + 1] : inH;
            int rows = last - first;
            int[] tmp = new int[rows * outW * 3];
            for (int y = 0; y < rows; y++) {
                for (int x = 0; x < outW; x++) {
                    int xmin = horiz.bounds[x * 2];
                    int xmax = horiz.bounds[x * 2 + 1];
                    for (int ch = 0; ch < 3; ch++) {
                        int ss = 1 << (PRECISION_BITS - 1);
                        for (int k = 0; k < xmax; k++) {
                            ss += cur[((y + first) * curW + xmin + k) * 3 + ch] * horiz.k[x * horiz.ksize + k];
                        }
                        tmp[(y * outW + x) * 3 + ch] = clip8(ss);
                    }
                }
            }
            cur = tmp;
            curH = rows;
            curW = outW;
            rowOffset = first;
        }
        if (needV) {
            int[] out = new int[outH * curW * 3];
            for (int y = 0; y < outH; y++) {
                int ymin = vert.bounds[y * 2] - rowOffset;
                int ymax = vert.bounds[y * 2 + 1];
                for (int x = 0; x < curW; x++) {
                    for (int ch = 0; ch < 3; ch++) {
                        int ss = 1 << (PRECISION_BITS - 1);
                        for (int k = 0; k < ymax; k++) {
                            ss += cur[((ymin + k) * curW + x) * 3 + ch] * vert.k[y * vert.ksize + k];
                        }
                        out[(y * curW + x) * 3 + ch] = clip8(ss);
                    }
                }
            }
            cur = out;
        } else if (curH != outH) {
            throw new IllegalStateException("resize bookkeeping");
        }
        return cur;
    }

    private static int clip8(int v) {
        int s = v >> PRECISION_BITS;
        return s < 0 ? 0 : Math.min(s, 255);
    }

    private record Coeffs(int ksize, int[] bounds, int[] k) {
    }

    /** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bicubic filter over box (0, inSize). */
    private static Coeffs coeffs(int inSize, int outSize) {
        double support0 = 2.0;
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = support0 * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        int[] kk = new int[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ww = 0.0;
            double ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) {
                xmin = 0;
            }
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) {
                xmax = inSize;
            }
            xmax -= xmin;
            java.util.Arrays.fill(k, 0.0);
            for (int x = 0; x < xmax; x++) {
                double wgt = bicubic((x + xmin - center + 0.5) * ss);
                k[x] = wgt;
                ww += wgt;
            }
            for (int x = 0; x < xmax; x++) {
                if (ww != 0.0) {
                    k[x] /= ww;
                }
            }
            for (int x = 0; x < ksize; x++) {
                kk[xx * ksize + x] = k[x] < 0 ? (int) (-0.5 + k[x] * (1 << PRECISION_BITS)) : (int) (0.5 + k[x] * (1 << PRECISION_BITS));
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return new Coeffs(ksize, bounds, kk);
    }

    private static double bicubic(double x) {
        double a = -0.5;
        if (x < 0.0) {
            x = -x;
        }
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }
}
