package io.diffuse.core.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How tensors are read from the mapped files: zero copy, converted from a released mapping, or copied. */
class SafetensorsMappingTest {
    @TempDir
    Path tmp;
    private PointerScope scope;
    private final DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();

    @BeforeEach
    void openScope() {
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }

    private static Tensor arange(long n, ScalarType type, long... shape) {
        return torch.arange(new Scalar(n)).to(ScalarType.Float).div(new Scalar(7)).to(type).reshape(shape);
    }

    private static float maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Float).sub(b.to(ScalarType.Float)).abs().max().item_float();
    }

    /** Address ranges of this process's mappings of {@code file}, from /proc/self/maps. */
    private static List<long[]> mappingsOf(Path file) throws IOException {
        String real = file.toRealPath().toString();
        List<long[]> ranges = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (line.endsWith(" " + real)) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                ranges.add(new long[] {Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16)});
            }
        }
        return ranges;
    }

    private static boolean inside(Tensor t, List<long[]> ranges) {
        long address = t.data_ptr().address();
        return ranges.stream().anyMatch(r -> address >= r[0] && address < r[1]);
    }

    private Path component(Map<String, Tensor> tensors) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("transformer"));
        Files.writeString(dir.resolve("config.json"), "{}");
        loader.writeTensors(dir.resolve(DiffusersCheckpointLoader.WEIGHTS), tensors);
        return dir;
    }

    private static Map<String, Tensor> sample() {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("a.fp32", arange(12, ScalarType.Float, 3, 4));
        in.put("b.bf16", arange(6, ScalarType.BFloat16, 2, 3));
        return in;
    }

    @Test
    void aTensorInItsStoredDtypeIsTheMappedFileAndEqualsTheCopiedOne() throws IOException {
        Map<String, Tensor> in = sample();
        Path dir = component(in);
        Path file = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        Tensor mapped;
        try (Checkpoint c = loader.open(dir, "transformer")) {
            mapped = c.load("a.fp32", DType.FP32);
            assertTrue(inside(mapped, mappingsOf(file)), "the fp32 tensor's data lies in the file's mapping");
            Tensor converted = c.load("a.fp32", DType.BF16);
            assertFalse(inside(converted, mappingsOf(file)), "a converted tensor owns its memory");
            assertEquals(0f, maxAbsDiff(in.get("a.fp32"), mapped));
            assertEquals(0f, maxAbsDiff(converted, mapped.to(ScalarType.BFloat16)));
            assertArrayEquals(new long[] {3, 4}, mapped.sizes().vec().get());
            assertEquals(0f, maxAbsDiff(in.get("b.bf16"), c.load("b.bf16", DType.BF16)));
        }
        Tensor input = loader.readTensors(file).get("a.fp32");
        assertFalse(inside(input, mappingsOf(file)), "tensors read as inputs are copies");
        assertEquals(0f, maxAbsDiff(in.get("a.fp32"), input));
        // The model keeps the mapping alive: the tensor outlives the closed checkpoint.
        assertFalse(mappingsOf(file).isEmpty());
        assertEquals(0f, maxAbsDiff(in.get("a.fp32"), mapped));
        scope.close(); // frees every tensor over the mapping, deterministically (no GC involved)
        scope = new PointerScope();
        assertTrue(mappingsOf(file).isEmpty(), "the mapping is released with its last tensor: " + mappingsOf(file).size());
    }

    @Test
    void writingToAMappedTensorNeverReachesTheFile() throws IOException {
        Map<String, Tensor> in = sample();
        Path dir = component(in);
        Path file = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        byte[] before = Files.readAllBytes(file);
        try (Checkpoint c = loader.open(dir, "transformer")) {
            Tensor mapped = c.load("a.fp32", DType.FP32);
            assertTrue(inside(mapped, mappingsOf(file)));
            mapped.fill_(new Scalar(42f));
            assertEquals(42f, mapped.max().item_float());
            // Another reader of the same file (another tensor, another rank) still sees the stored values.
            try (Checkpoint other = loader.open(dir, "transformer")) {
                assertEquals(0f, maxAbsDiff(in.get("a.fp32"), other.load("a.fp32", DType.FP32)));
            }
        }
        assertArrayEquals(before, Files.readAllBytes(file), "the checkpoint file is unchanged");
    }

    @Test
    void aConvertedTensorLeavesNoMappingBehind() throws IOException {
        Map<String, Tensor> in = sample();
        Path dir = component(in);
        Path file = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        try (Checkpoint c = loader.open(dir, "transformer")) {
            Tensor b32 = c.load("b.bf16", DType.FP32);
            assertEquals(ScalarType.Float.value, b32.scalar_type().value);
            assertEquals(0f, maxAbsDiff(in.get("b.bf16"), b32));
            assertTrue(mappingsOf(file).isEmpty(), "the file is unmapped as soon as its tensor is converted");
            Tensor a16 = c.load("a.fp32", DType.BF16);
            assertTrue(maxAbsDiff(in.get("a.fp32"), a16) <= 1f / 256);
            assertTrue(mappingsOf(file).isEmpty(), "the file is unmapped as soon as its tensor is converted");
        }
    }

    @Test
    void anUnalignedTensorIsCopiedNotMapped() throws IOException {
        // A one-element bf16 tensor first puts the fp32 tensor after it at data offset 2: not 4-aligned.
        String header = "{\"h\": {\"dtype\": \"BF16\", \"shape\": [1], \"data_offsets\": [0, 2]},"
                + " \"f\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [2, 10]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int pad = (8 - h.length % 8) % 8; // keep the data region itself 8-aligned, as safetensors does
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + pad + 10).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length + pad).put(h);
        for (int i = 0; i < pad; i++) {
            b.put((byte) ' ');
        }
        b.putShort((short) 0x3f80).putFloat(1.5f).putFloat(-2.25f);
        Path dir = Files.createDirectories(tmp.resolve("transformer"));
        Files.writeString(dir.resolve("config.json"), "{}");
        Path file = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        Files.write(file, b.array());
        try (Checkpoint c = loader.open(dir, "transformer")) {
            Tensor f = c.load("f", DType.FP32);
            assertFalse(inside(f, mappingsOf(file)));
            assertEquals(0L, f.data_ptr().address() % 4);
            assertEquals(1.5f, f.select(0, 0).item_float());
            assertEquals(-2.25f, f.select(0, 1).item_float());
            assertEquals(1f, c.load("h", DType.BF16).item_float());
            assertEquals(-2.25f, c.load("f", DType.BF16).select(0, 1).item_float());
        }
    }

    @Test
    void aTruncatedFileFailsInOneLineNamingItBeforeAnyTensorIsMapped() throws IOException {
        Path dir = component(sample());
        Path file = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        byte[] whole = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(whole, whole.length - 3));
        DiffuseException e = assertThrows(DiffuseException.class, () -> loader.open(dir, "transformer").close());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(mappingsOf(file).isEmpty());
    }
}
