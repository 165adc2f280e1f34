package io.diffuse.core.video;

import io.diffuse.api.DiffuseException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Turns a decoded video tensor into 8-bit RGB frames the way diffusers' {@code export_to_video} does:
 * {@code (frame * 255).astype(np.uint8)}, which truncates (no rounding).
 */
public final class VideoTensors {

    private VideoTensors() {
    }

    /**
     * Checks that {@code video} is a floating-point (B, 3, F, H, W) tensor.
     *
     * @param video the tensor to check
     * @return its sizes {B, 3, F, H, W}
     * @throws DiffuseException when the layout is wrong
     */
    public static long[] checkLayout(Tensor video) {
        if (video.dim() != 5 || video.size(1) != 3 || !video.is_floating_point()) {
            throw new DiffuseException("a video tensor must be floating point (B, 3, F, H, W) in [0, 1], got "
                    + video.scalar_type() + " " + java.util.Arrays.toString(video.sizes().vec().get()));
        }
        return video.sizes().vec().get();
    }

    /**
     * The frames of batch item {@code batch} of {@code video} as packed RGB bytes, converted one frame at
     * a time. Values are clamped to [0, 1] first (diffusers' post-processing already clamps; this only
     * guards against wrap-around), then {@code (x * 255)} is truncated to uint8 as numpy's astype does.
     *
     * @param video a (B, 3, F, H, W) floating-point tensor in [0, 1], on any device
     * @param batch the batch item, 0-based
     * @return a frame source over the F frames of that item
     */
    public static RgbFrameSource frames(Tensor video, int batch) {
        long[] s = checkLayout(video);
        if (batch < 0 || batch >= s[0]) {
            throw new DiffuseException("batch item " + batch + " is out of range for a video batch of " + s[0]);
        }
        int height = Math.toIntExact(s[3]);
        int width = Math.toIntExact(s[4]);
        return (index, rgb) -> {
            try (PointerScope scope = new PointerScope()) {
                // (3, H, W) -> (H, W, 3): packed RGB rows.
                Tensor frame = video.select(0, batch).select(1, index).cpu().to(ScalarType.Float)
                        .clamp_min(new Scalar(0.0)).clamp_max(new Scalar(1.0))
                        .mul(new Scalar(255.0)).to(ScalarType.Byte)
                        .permute(1, 2, 0).contiguous();
                frame.data_ptr_byte().get(rgb, 0, height * width * 3);
            }
        };
    }
}
