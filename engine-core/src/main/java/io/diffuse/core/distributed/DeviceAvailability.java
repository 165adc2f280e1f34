package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import org.bytedeco.pytorch.global.torch;

/**
 * Checks, before any rank starts, that the configured device exists in this build and on this
 * host, so {@code --device cuda} on a CPU build or a host without a GPU is one line instead of a
 * libtorch trace (or, for collectives, an NCCL backend that cannot load).
 */
public final class DeviceAvailability {
    private DeviceAvailability() {
    }

    /**
     * Returns when {@code device} ({@code cpu}, {@code cuda}, {@code cuda:N}) can be used here.
     *
     * @throws DiffuseException naming what is missing (CUDA natives, a GPU, that GPU index) and how to get it
     */
    public static void require(String device) {
        if (!device.startsWith("cuda")) {
            return;
        }
        if (!cudaNatives()) {
            throw new DiffuseException("device " + device + " (--device, diffuse.device) needs libtorch's CUDA natives, but "
                    + "this is a CPU build; build with `mvn -Pcuda -DskipTests package` and run it on a host with an NVIDIA "
                    + "GPU, or use --device cpu");
        }
        int count = torch.cuda_device_count();
        if (count < 1) {
            throw new DiffuseException("device " + device + " (--device, diffuse.device): this build has the CUDA natives "
                    + "but this host shows no GPU (no NVIDIA GPU or driver, or CUDA_VISIBLE_DEVICES hides them); run on a "
                    + "GPU host, or use --device cpu");
        }
        int colon = device.indexOf(':');
        if (colon > 0) {
            int index = Integer.parseInt(device.substring(colon + 1));
            if (index >= count) {
                throw new DiffuseException("device " + device + " (--device, diffuse.device): this host has " + count
                        + " GPU(s), cuda:0.." + "cuda:" + (count - 1) + "; pick one of those or use --device cuda");
            }
        }
    }

    /** Whether these libtorch natives were built with CUDA (a -Pcuda build), GPU present or not. */
    static boolean cudaNatives() {
        try {
            return torch.hasCUDA();
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            return false;
        }
    }
}
