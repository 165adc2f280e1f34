package io.diffuse.testkit.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.vae.TiledVae;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.core.local.TiledVaeExecutor;
import io.diffuse.testkit.ThreadRanks;
import java.util.List;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * What every VAE executor must do: encode and decode a {@link ToyTiledVae} input on each of its VAE
 * group sizes and give, on every rank that receives the result, exactly (bit for bit) the single-rank
 * reference: diffusers' tiling as the core's "tiled" executor runs it when the executor tiles, the
 * untiled VAE otherwise. A subclass says how to make the executor and which group sizes it runs.
 */
public abstract class VaeExecutorContract {
    /** A fresh executor under test. */
    protected abstract VaeExecutor executor();

    /** VAE group sizes to run (1 for a single-rank executor). */
    protected abstract List<Integer> vaeRanks();

    /** Whether the executor tiles (compared with the tiled reference) or runs the VAE whole. */
    protected boolean tiles() {
        return true;
    }

    /** Tile geometry: small tiles on the toy VAE, so there are many tiles and blends per row. */
    protected TilingSettings tiling() {
        return new TilingSettings(true, 32, 0.25);
    }

    @Test
    void hasANameAndADescription() {
        VaeExecutor e = executor();
        assertFalse(e.name().isBlank(), "name");
        assertFalse(e.description().isBlank(), "description for diffuse info");
        assertEquals(vaeRanks().stream().anyMatch(n -> n > 1), e.distributed(), "distributed() says whether it uses several ranks");
    }

    @TestFactory
    Stream<DynamicTest> decodeEqualsTheSingleRankReference() {
        return vaeRanks().stream().map(n -> DynamicTest.dynamicTest("decode on " + n + " rank(s)",
                () -> compare(n, (vae, x) -> reference().decode(vae, x, single()), (e, x, run) -> e.decode(new ToyTiledVae(), x, run),
                        latent())));
    }

    @TestFactory
    Stream<DynamicTest> encodeEqualsTheSingleRankReference() {
        return vaeRanks().stream().map(n -> DynamicTest.dynamicTest("encode on " + n + " rank(s)",
                () -> compare(n, (vae, x) -> reference().encode(vae, x, single()), (e, x, run) -> e.encode(new ToyTiledVae(), x, run),
                        sample())));
    }

    private VaeExecutor reference() {
        return tiles() ? new TiledVaeExecutor() : new LocalVaeExecutor();
    }

    private VaeRun single() {
        return new VaeRun(tiles() ? tiling() : TilingSettings.defaults(false), LocalGroups.create(), true);
    }

    /** (1, 4, 3, 10, 12) latents: 80 x 96 pixels, several 32 px tiles per side with uneven edges. */
    private static Tensor latent() {
        Generator g = torch.createCPUGenerator(3);
        Tensor t = torch.randn(new long[] {1, 4, 3, 10, 12}, new GeneratorOptional(g), new TensorOptions(ScalarType.Float));
        t.retainReference();
        return t;
    }

    /** (1, 3, 9, 80, 96) pixels in [0, 1]. */
    private static Tensor sample() {
        Generator g = torch.createCPUGenerator(4);
        Tensor t = torch.rand(new long[] {1, 3, 9, 80, 96}, new GeneratorOptional(g), new TensorOptions(ScalarType.Float));
        t.retainReference();
        return t;
    }

    private interface Run {
        Tensor apply(VaeExecutor executor, Tensor input, VaeRun run);
    }

    private void compare(int n, BiFunction<TiledVae, Tensor, Tensor> referenceRun, Run run, Tensor input) {
        Tensor expected;
        try (PointerScope scope = new PointerScope()) {
            expected = referenceRun.apply(new ToyTiledVae(), input);
            expected.retainReference();
        }
        VaeExecutor executor = executor();
        ParallelPlan plan = new ParallelPlan(n, 1, n, 1, n);
        ThreadRanks.run(plan, groups -> {
            try (PointerScope scope = new PointerScope()) {
                Tensor got = run.apply(executor, input, new VaeRun(tiles() ? tiling() : TilingSettings.defaults(false), groups, true));
                assertNotNull(got, "every rank receives the result when resultOnAllRanks is set");
                Tensors.assertBitIdentical(expected, got, executor.name() + " on rank " + groups.world().rank() + " of " + n);
            }
            return null;
        });
    }
}
