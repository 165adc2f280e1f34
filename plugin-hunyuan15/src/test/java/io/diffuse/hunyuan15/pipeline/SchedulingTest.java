package io.diffuse.hunyuan15.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scheduler sigmas against the values diffusers computes (reference spec 3.4); the config reader. */
class SchedulingTest {
    @Test
    void sigmasMatchDiffusersBitForBit() {
        // diffusers: FlowMatchEulerDiscreteScheduler(shift=5.0).set_timesteps(sigmas=np.linspace(1,0,4)[:-1]) ->
        // timesteps [1000.0, 909.0909423828125, 714.28564453125], sigmas [1.0, 0.9090909361839294,
        // 0.714285671710968, 0.0] (float32; compared exactly).
        FlowMatchEulerDiscreteScheduler s = new FlowMatchEulerDiscreteScheduler(5.0, 1000);
        s.setTimesteps(3);
        assertArrayEquals(new float[] {1000f, 909.0909423828125f, 714.28564453125f}, s.timesteps());
        assertArrayEquals(new float[] {1f, 0.9090909361839294f, 0.714285671710968f, 0f}, s.sigmas());
        s.setTimesteps(50);
        assertEquals(995.9349365234375f, s.timesteps()[1]);
        assertEquals(92.59258270263672f, s.timesteps()[49]);
    }

    @Test
    void schedulerConfigIsReadAndUnsupportedOptionsRefused(@TempDir Path dir) throws Exception {
        Path ok = dir.resolve("ok.json");
        Files.writeString(ok, "{\"shift\": 7.0, \"num_train_timesteps\": 1000, \"use_dynamic_shifting\": false, \"shift_terminal\": null}");
        assertEquals(7.0, FlowMatchEulerDiscreteScheduler.fromConfig(ok).shift());
        Path dynamic = dir.resolve("dyn.json");
        Files.writeString(dynamic, "{\"shift\": 7.0, \"use_dynamic_shifting\": true}");
        String m = assertThrows(DiffuseException.class, () -> FlowMatchEulerDiscreteScheduler.fromConfig(dynamic)).getMessage();
        assertTrue(m.contains("use_dynamic_shifting"), m);
    }
}
