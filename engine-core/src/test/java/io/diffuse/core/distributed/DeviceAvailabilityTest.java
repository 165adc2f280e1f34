package io.diffuse.core.distributed;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The device check that runs before any rank starts. */
class DeviceAvailabilityTest {
    @Test
    void cpuIsAlwaysThere() {
        DeviceAvailability.require("cpu");
    }

    @Test
    void cudaOnACpuBuildNamesTheMissingNativesAndTheProfile() {
        Assumptions.assumeFalse(torch.hasCUDA(), "these natives have CUDA");
        for (String device : new String[] {"cuda", "cuda:1"}) {
            DiffuseException e = assertThrows(DiffuseException.class, () -> DeviceAvailability.require(device));
            assertTrue(e.getMessage().startsWith("device " + device + " (--device, diffuse.device) needs libtorch's CUDA natives"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("-Pcuda") && !e.getMessage().contains("\n"), e.getMessage());
        }
    }
}
