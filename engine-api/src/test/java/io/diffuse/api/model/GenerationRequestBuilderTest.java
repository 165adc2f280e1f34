package io.diffuse.api.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GenerationRequestBuilderTest {
    @Test
    void defaultsAreTheCommandLines() {
        assertEquals(new GenerationRequest(Task.TEXT_TO_VIDEO, "", "", Optional.empty(), Optional.empty(), Optional.empty(), 121,
                50, 6.0, Optional.empty(), 0, Map.of()), GenerationRequest.builder().build());
    }

    @Test
    void everyValueReachesItsComponent() {
        GenerationRequest r = GenerationRequest.builder().prompt("a fox").negativePrompt("blurry").size(32, 48).numFrames(5)
                .numInferenceSteps(3).guidanceScale(1.0).flowShift(7.0).seed(42).build();
        assertEquals(new GenerationRequest(Task.TEXT_TO_VIDEO, "a fox", "blurry", Optional.empty(), Optional.of(32), Optional.of(48),
                5, 3, 1.0, Optional.of(7.0), 42, Map.of()), r);
    }

    @Test
    void anImageMakesItImageToVideoAndNoImageTextToVideo() {
        GenerationRequest i2v = GenerationRequest.builder().image(Path.of("first.png")).build();
        assertEquals(Task.IMAGE_TO_VIDEO, i2v.task());
        assertEquals(Optional.of(Path.of("first.png")), i2v.image());
        GenerationRequest t2v = i2v.toBuilder().noImage().build();
        assertEquals(Task.TEXT_TO_VIDEO, t2v.task());
        assertEquals(Optional.empty(), t2v.image());
    }

    @Test
    void toBuilderKeepsEveryValue() {
        GenerationRequest r = new GenerationRequest(Task.IMAGE_TO_VIDEO, "p", "n", Optional.of(Path.of("i.png")), Optional.of(64),
                Optional.of(96), 9, 4, 3.5, Optional.of(5.0), -3, Map.of());
        assertEquals(r, r.toBuilder().build());
        assertEquals(10, r.toBuilder().numFrames(10).build().numFrames());
    }

    @Test
    void impossibleValuesAreRefusedNamingTheField() {
        assertMessage("numFrames 0: must be at least 1", () -> GenerationRequest.builder().numFrames(0).build());
        assertMessage("numInferenceSteps -1: must be at least 1", () -> GenerationRequest.builder().numInferenceSteps(-1).build());
        assertMessage("size 0x64: height and width must be positive", () -> GenerationRequest.builder().size(0, 64).build());
        assertMessage("guidanceScale NaN: must be a finite number", () -> GenerationRequest.builder().guidanceScale(Double.NaN).build());
        assertMessage("flowShift 0.0: must be a positive number", () -> GenerationRequest.builder().flowShift(0).build());
        assertThrows(NullPointerException.class, () -> GenerationRequest.builder().prompt(null));
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
        assertTrue(e.getMessage().equals(expected), e.getMessage());
    }
}
