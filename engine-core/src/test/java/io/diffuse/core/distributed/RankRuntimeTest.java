package io.diffuse.core.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.NotInstalledException;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.registry.PluginRegistry;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Joining a run: single rank, environment checks, context lookup. */
class RankRuntimeTest {
    private static final PluginRegistry NOTHING = new PluginRegistry() {
        @Override
        public List<Installed<ParallelStrategy>> strategies() {
            return List.of();
        }

        @Override
        public List<Installed<VaeExecutor>> vaeExecutors() {
            return List.of();
        }

        @Override
        public List<Installed<ModelProvider>> models() {
            return List.of();
        }
    };

    private static EngineSettings settings(Map<String, Object> flags) {
        return EngineSettings.from(ConfigLoader.load(null, flags, Map.of(), new Properties(), List.of()));
    }

    @Test
    void joiningSetsTheConfiguredAttentionBackendForThisProcess() {
        try (RankRuntime runtime = RankRuntime.join(settings(Map.of("diffuse.attention.backend", "math")), NOTHING, Map.of())) {
            org.bytedeco.pytorch.Context context = torch.globalContext();
            assertTrue(context.userEnabledMathSDP() && !context.userEnabledFlashSDP() && !context.userEnabledCuDNNSDP()
                    && !context.userEnabledMemEfficientSDP(), "only math allowed");
        } finally {
            AttentionBackend.apply("auto");
        }
        try (RankRuntime runtime = RankRuntime.join(settings(Map.of()), NOTHING, Map.of())) {
            assertTrue(torch.globalContext().userEnabledFlashSDP() && torch.globalContext().userEnabledMathSDP(), "auto allows all");
        }
    }

    @Test
    void joiningSetsTheConfiguredLinearBackendForThisProcess() {
        try (RankRuntime runtime = RankRuntime.join(settings(Map.of("diffuse.linear.backend", "blas")), NOTHING, Map.of())) {
            assertTrue(!io.diffuse.api.runtime.Linear.usesOneDnn(), "blas: fp32 CPU linears in OpenBLAS");
        } finally {
            io.diffuse.api.runtime.Linear.useOneDnn(true);
        }
        try (RankRuntime runtime = RankRuntime.join(settings(Map.of()), NOTHING, Map.of())) {
            assertTrue(io.diffuse.api.runtime.Linear.usesOneDnn(), "default onednn");
        }
    }

    @Test
    void aRankWithoutRankZeroGivesUpAtTheConfiguredTimeout() {
        int port = io.diffuse.core.launch.LocalLauncherTestAccess.freePort(); // nobody listens there
        EngineSettings settings = settings(Map.of("diffuse.parallel.nproc", 2, "diffuse.parallel.ulysses", 2,
                "diffuse.dist.timeout", "3s"));
        Map<String, String> rank1 = Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT",
                Integer.toString(port));
        long start = System.nanoTime();
        DiffuseException e = assertThrows(DiffuseException.class, () -> RankRuntime.join(settings, NOTHING, rank1));
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(e.getMessage().startsWith("rendezvous with rank 0 at 127.0.0.1:" + port + " failed within 3s"), e.getMessage());
        // c10d's client alone gave up after about twice the timeout (6 s here); the message must be true.
        assertTrue(seconds >= 2.9 && seconds < 4.5, "gave up after " + seconds + " s, the timeout is 3 s");
    }

    @Test
    void aSingleRankNeedsNoRendezvous() {
        try (RankRuntime rt = RankRuntime.join(settings(Map.of()), NOTHING, Map.of());
                PointerScope scope = new PointerScope()) {
            assertEquals(0, rt.rank());
            assertEquals(1, rt.worldSize());
            assertSame(rt.groups(), rt.groups());
            Tensor t = torch.full(new long[] {3}, new Scalar(2.0));
            rt.groups().world().allReduce(t, ReduceOp.SUM);
            assertEquals(6.0, t.sum().item_double());
            Tensor sent = torch.full(new long[] {2}, new Scalar(5.0));
            Tensor got = torch.zeros(2);
            var s = rt.groups().ring().sendAsync(sent, 0);
            var r = rt.groups().ring().recvAsync(got, 0);
            s.await();
            r.await();
            assertTrue(got.equal(sent), "a ring of one delivers its own send");
            assertEquals(1, rt.groups().world().stats().snapshot().get("all_reduce").calls());
            assertEquals("cpu", rt.device().str().getString());
            NotInstalledException e = assertThrows(NotInstalledException.class, () -> rt.context(null));
            assertEquals("local", e.name());
        }
    }

    @Test
    void nprocWithoutRankEnvironmentIsAnError() {
        DiffuseException e = assertThrows(DiffuseException.class, () -> RankRuntime.join(
                settings(Map.of("diffuse.parallel.nproc", 2, "diffuse.parallel.ulysses", 2)), NOTHING, Map.of()));
        assertTrue(e.getMessage().contains("RANK is not set"), e.getMessage());
        DiffuseException mismatch = assertThrows(DiffuseException.class, () -> RankRuntime.join(settings(Map.of()), NOTHING,
                Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_PORT", "29500")));
        assertTrue(mismatch.getMessage().contains("WORLD_SIZE = 2 but diffuse.parallel.nproc = 1"), mismatch.getMessage());
    }

    @Test
    void rendezvousTimesOutNamingTheAddress() {
        int port = io.diffuse.core.launch.LocalLauncherTestAccess.freePort();
        long t0 = System.nanoTime();
        DiffuseException e = assertThrows(DiffuseException.class, () -> RankRuntime.join(
                settings(Map.of("diffuse.parallel.nproc", 2, "diffuse.parallel.ulysses", 2, "diffuse.dist.timeout", "2s")),
                NOTHING, Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port))));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(e.getMessage().contains("rendezvous with rank 0 at 127.0.0.1:" + port + " failed within 2s"), e.getMessage());
        assertTrue(seconds < 10, "gave up after " + seconds + " s");
    }
}
