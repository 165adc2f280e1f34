package io.diffuse.testkit.contract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.model.ModelSource;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.runtime.RuntimeContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every model provider must do: a lower-case family name; a confidence in [0, 100] that is 0
 * for a folder that is not a model; defaults that are configuration keys; every built-in model loads
 * and generates a small request on one rank, deterministically from the seed, a video of the asked
 * frames and size in [0, 1]; unknown components are refused.
 */
public abstract class ModelProviderContract {
    @TempDir
    Path tmp;

    /** A fresh provider under test. */
    protected abstract ModelProvider provider();

    /** A single-rank context to load and run in. */
    protected abstract RuntimeContext context();

    /** A request the built-in models run in seconds (frames, size and steps small). */
    protected abstract GenerationRequest smallRequest(long seed);

    @Test
    void hasAFamilyNameAndADescription() {
        ModelProvider p = provider();
        assertFalse(p.family().isBlank());
        assertEquals(p.family().toLowerCase(java.util.Locale.ROOT), p.family(), "family names are lower case");
        assertFalse(p.description().isBlank());
    }

    @Test
    void doesNotRecogniseAnEmptyOrForeignFolder() throws Exception {
        assertEquals(ModelProvider.NOT_MINE, provider().recognize(tmp));
        Files.writeString(tmp.resolve("model_index.json"), "{\"_class_name\": \"SomeoneElsesPipeline\"}");
        int score = provider().recognize(tmp);
        assertTrue(score >= ModelProvider.NOT_MINE && score < ModelProvider.CERTAIN, "not certain of a foreign pipeline: " + score);
    }

    @Test
    void defaultsAreConfigurationKeys() {
        for (String name : provider().builtinModels()) {
            for (Map<String, Object> group : provider().defaultSettings(ModelSource.builtin(name))) {
                assertFalse(group.isEmpty(), "empty default group");
                group.keySet().forEach(k -> assertTrue(k.startsWith("diffuse."), "default key " + k));
            }
        }
    }

    @Test
    void refusesAnUnknownComponent() {
        assertThrows(IllegalArgumentException.class, () -> provider().component("no-such-component", tmp, context()));
    }

    /** diffusers' {@code interrupt}: asked after every step; a yes stops the request right there. */
    @Test
    void interruptStopsTheRequestAfterTheStepThatAskedForIt() {
        ModelProvider p = provider();
        for (String name : p.builtinModels()) {
            java.util.List<Integer> steps = new java.util.ArrayList<>();
            io.diffuse.api.model.ProgressListener stopAtOne = new io.diffuse.api.model.ProgressListener() {
                @Override
                public void step(String stage, int step, int total) {
                    steps.add(step);
                }

                @Override
                public boolean interruptRequested(String stage, int step, int total) {
                    return step == 1;
                }
            };
            try (PointerScope scope = new PointerScope(); Pipeline pipeline = p.load(ModelSource.builtin(name), context())) {
                io.diffuse.api.model.GenerationInterruptedException e = assertThrows(
                        io.diffuse.api.model.GenerationInterruptedException.class,
                        () -> pipeline.generate(smallRequest(5), context(), stopAtOne), name);
                assertEquals(1, e.step(), name);
                assertEquals(java.util.List.of(1), steps, name + ": no step after the interrupt");
            }
        }
    }

    @Test
    void everyBuiltinModelGeneratesDeterministically() {
        ModelProvider p = provider();
        for (String name : p.builtinModels()) {
            try (PointerScope scope = new PointerScope(); Pipeline pipeline = p.load(ModelSource.builtin(name), context())) {
                GenerationRequest request = smallRequest(5);
                GenerationResult a = pipeline.generate(request, context(), io.diffuse.api.model.ProgressListener.NONE);
                GenerationResult b = pipeline.generate(request, context(), io.diffuse.api.model.ProgressListener.NONE);
                GenerationResult c = pipeline.generate(smallRequest(6), context(), io.diffuse.api.model.ProgressListener.NONE);
                Tensor video = a.video();
                assertNotNull(video, name + ": a single rank holds the video");
                assertEquals(5, video.dim(), name + ": (B, 3, F, H, W)");
                assertArrayEquals(new long[] {1, 3, request.numFrames(), request.height().orElseThrow(), request.width().orElseThrow()},
                        video.sizes().vec().get(), name + ": video shape");
                assertTrue(video.min().item_double() >= 0 && video.max().item_double() <= 1, name + ": video in [0, 1]");
                Tensors.assertBitIdentical(a.latents(), b.latents(), name + ": same seed, same latents");
                assertTrue(a.latents().sub(c.latents()).abs().max().item_double() > 1e-6, name + ": another seed, other latents");
            }
        }
    }
}
