package io.diffuse.core.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiffusersCheckpointLoaderTest {
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
        return torch.arange(new org.bytedeco.pytorch.Scalar(n)).to(ScalarType.Float).div(new org.bytedeco.pytorch.Scalar(7))
                .to(type).reshape(shape);
    }

    private static float maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Float).sub(b.to(ScalarType.Float)).abs().max().item_float();
    }

    private Path component(String config) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("transformer"));
        Files.writeString(dir.resolve("config.json"), config);
        return dir;
    }

    private static void writeRaw(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(file, b.array());
    }

    private DiffuseException openFails(Path dir) {
        return assertThrows(DiffuseException.class, () -> loader.open(dir, "transformer").close());
    }

    @Test
    void roundTripsEveryDtypeAndConvertsStorageToTheRunDtype() throws IOException {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("a.fp32", arange(12, ScalarType.Float, 3, 4));
        in.put("b.bf16", arange(6, ScalarType.BFloat16, 6));
        in.put("c.fp16", arange(8, ScalarType.Half, 2, 2, 2));
        in.put("mask", torch.ones(new long[] {1, 5}, new TensorOptions(ScalarType.Long)));
        in.put("flag", torch.ones(new long[] {3}, new TensorOptions(ScalarType.Bool)));
        Path dir = component("{\"_class_name\": \"X\", \"n\": 3, \"dims\": [1, 2], \"a.b\": {\"c\": true}}");
        loader.writeTensors(dir.resolve(DiffusersCheckpointLoader.WEIGHTS), in);
        try (java.util.stream.Stream<Path> listing = Files.list(dir)) {
            assertTrue(listing.noneMatch(p -> p.toString().endsWith(".tmp")), "no temporary file left behind");
        }
        Map<String, Tensor> back = loader.readTensors(dir.resolve(DiffusersCheckpointLoader.WEIGHTS));
        assertEquals(in.keySet(), back.keySet());
        for (String k : in.keySet()) {
            assertEquals(in.get(k).scalar_type().value, back.get(k).scalar_type().value, k);
            assertArrayEquals(in.get(k).sizes().vec().get(), back.get(k).sizes().vec().get(), k);
            assertEquals(0f, maxAbsDiff(in.get(k), back.get(k)), k);
        }
        try (Checkpoint ckpt = loader.open(dir, "transformer")) {
            assertEquals(3, ((Number) ckpt.config().get("n")).intValue());
            assertEquals(Map.of("c", true), ckpt.config().get("a.b"), "dotted keys stay whole");
            assertArrayEquals(new long[] {6}, ckpt.shape("b.bf16"));
            Tensor b32 = ckpt.load("b.bf16", DType.FP32);
            assertEquals(ScalarType.Float.value, b32.scalar_type().value);
            // bf16 -> fp32 is exact, so the comparison is exact.
            assertEquals(0f, maxAbsDiff(in.get("b.bf16"), b32));
            Tensor a16 = ckpt.load("a.fp32", DType.BF16);
            assertEquals(ScalarType.BFloat16.value, a16.scalar_type().value);
            // fp32 -> bf16 rounds to 8 mantissa bits: values below 2 differ by at most 2^-8.
            assertTrue(maxAbsDiff(in.get("a.fp32"), a16) <= 1f / 256);
            assertEquals(ScalarType.Half.value, ckpt.load("c.fp16", DType.FP16).scalar_type().value);
            DiffuseException e = assertThrows(DiffuseException.class, () -> ckpt.load("nope", DType.FP32));
            assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        }
    }

    @Test
    void resolvesPipelineRootAndComponentFolder() throws IOException {
        Path comp = component("{}");
        loader.writeTensors(comp.resolve(DiffusersCheckpointLoader.WEIGHTS), Map.of("w", arange(4, ScalarType.Float, 4)));
        Files.writeString(tmp.resolve("model_index.json"), "{\"transformer\": [\"diffusers\", \"X\"]}");
        try (Checkpoint c = loader.open(tmp, "transformer")) {
            assertEquals(comp, c.directory());
        }
        try (Checkpoint c = loader.open(comp, "transformer")) {
            assertEquals(comp, c.directory());
        }
        DiffuseException e = assertThrows(DiffuseException.class, () -> loader.open(tmp, "vae"));
        assertTrue(e.getMessage().contains("vae/config.json"), e.getMessage());
        DiffuseException none = assertThrows(DiffuseException.class, () -> loader.open(tmp.resolve("nothing"), "vae"));
        assertTrue(none.getMessage().contains("nothing"), none.getMessage());
    }

    @Test
    void readsShardedCheckpoints() throws IOException {
        Path dir = component("{}");
        loader.writeTensors(dir.resolve("s1.safetensors"), Map.of("x.a", arange(4, ScalarType.BFloat16, 2, 2)));
        loader.writeTensors(dir.resolve("s2.safetensors"), Map.of("x.b", arange(3, ScalarType.Float, 3), "x.c", arange(2, ScalarType.Float, 2)));
        Files.writeString(dir.resolve(DiffusersCheckpointLoader.INDEX),
                "{\"metadata\": {\"total_size\": 28}, \"weight_map\": {\"x.a\": \"s1.safetensors\", \"x.b\": \"s2.safetensors\", \"x.c\": \"s2.safetensors\"}}");
        try (Checkpoint c = loader.open(dir, "transformer")) {
            assertEquals(java.util.Set.of("x.a", "x.b", "x.c"), c.keys());
            assertEquals(ScalarType.Float.value, c.load("x.a", DType.FP32).scalar_type().value);
            c.verify(Map.of("x.a", new long[] {2, 2}, "x.b", new long[] {3}, "x.c", new long[] {2}));
        }
        Files.writeString(dir.resolve(DiffusersCheckpointLoader.INDEX),
                "{\"weight_map\": {\"x.a\": \"s1.safetensors\", \"x.b\": \"s2.safetensors\"}}");
        DiffuseException unlisted = openFails(dir);
        assertTrue(unlisted.getMessage().contains("'x.c'") && unlisted.getMessage().contains("s2.safetensors"), unlisted.getMessage());
        Files.writeString(dir.resolve(DiffusersCheckpointLoader.INDEX),
                "{\"weight_map\": {\"x.a\": \"s1.safetensors\", \"x.b\": \"s3.safetensors\"}}");
        DiffuseException missingShard = openFails(dir);
        assertTrue(missingShard.getMessage().contains("s3.safetensors"), missingShard.getMessage());
        Files.writeString(dir.resolve(DiffusersCheckpointLoader.INDEX),
                "{\"weight_map\": {\"x.a\": \"s2.safetensors\", \"x.b\": \"s2.safetensors\", \"x.c\": \"s2.safetensors\"}}");
        DiffuseException wrongShard = openFails(dir);
        assertTrue(wrongShard.getMessage().contains("'x.a'"), wrongShard.getMessage());
    }

    @Test
    void verifyNamesMissingUnexpectedAndWrongShapes() throws IOException {
        Path dir = component("{}");
        loader.writeTensors(dir.resolve(DiffusersCheckpointLoader.WEIGHTS),
                Map.of("keep", arange(4, ScalarType.Float, 4), "extra", arange(2, ScalarType.Float, 2), "bent", arange(6, ScalarType.Float, 2, 3)));
        try (Checkpoint c = loader.open(dir, "transformer")) {
            DiffuseException e = assertThrows(DiffuseException.class, () -> c.verify(Map.of(
                    "keep", new long[] {4}, "bent", new long[] {3, 2}, "gone", new long[] {1})));
            String m = e.getMessage();
            assertTrue(m.contains("1 missing tensors: 'gone'"), m);
            assertTrue(m.contains("1 unexpected tensors: 'extra' in " + DiffusersCheckpointLoader.WEIGHTS), m);
            assertTrue(m.contains("'bent' in " + DiffusersCheckpointLoader.WEIGHTS + ": [2, 3], expected [3, 2]"), m);
        }
    }

    @Test
    void rejectsTruncatedFiles() throws IOException {
        Path dir = component("{}");
        Path w = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        loader.writeTensors(w, Map.of("layer.weight", arange(64, ScalarType.Float, 8, 8)));
        byte[] all = Files.readAllBytes(w);
        Files.write(w, java.util.Arrays.copyOf(all, all.length - 10));
        DiffuseException e = openFails(dir);
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("'layer.weight'")
                && e.getMessage().contains(w.toString()), e.getMessage());
        Files.write(w, java.util.Arrays.copyOf(all, 20));
        DiffuseException header = openFails(dir);
        assertTrue(header.getMessage().contains("truncated") && header.getMessage().contains(w.toString()), header.getMessage());
        Files.write(w, new byte[] {1, 2, 3});
        assertTrue(openFails(dir).getMessage().contains("truncated"));
    }

    @Test
    void rejectsHeadersWhoseOffsetsLie() throws IOException {
        Path dir = component("{}");
        Path w = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        writeRaw(w, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        DiffuseException overlap = openFails(dir);
        assertTrue(overlap.getMessage().contains("overlapping") && overlap.getMessage().contains("'a'")
                && overlap.getMessage().contains("'b'"), overlap.getMessage());
        writeRaw(w, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        DiffuseException size = openFails(dir);
        assertTrue(size.getMessage().contains("'a'") && size.getMessage().contains("needs 12"), size.getMessage());
        writeRaw(w, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8);
        assertTrue(openFails(dir).getMessage().contains("not an increasing pair"));
        writeRaw(w, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8);
        assertTrue(openFails(dir).getMessage().contains("'a'"));
        writeRaw(w, "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        assertTrue(openFails(dir).getMessage().contains("unsupported dtype 'Q7'"));
        writeRaw(w, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8);
        assertTrue(openFails(dir).getMessage().contains("not an integer"));
        writeRaw(w, "{\"a\": [1, 2", 8);
        DiffuseException json = openFails(dir);
        assertTrue(json.getMessage().contains("unparsable JSON header") && json.getMessage().contains(w.toString()), json.getMessage());
    }

    @Test
    void rejectsOversizedHeaders() throws IOException {
        Path dir = component("{}");
        Path w = dir.resolve(DiffusersCheckpointLoader.WEIGHTS);
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200L * 1024 * 1024).putLong(0);
        Files.write(w, b.array());
        DiffuseException e = openFails(dir);
        assertTrue(e.getMessage().contains("limit") && e.getMessage().contains(w.toString()), e.getMessage());
        b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).putLong(0);
        Files.write(w, b.array());
        assertTrue(openFails(dir).getMessage().contains("limit"));
    }

    @Test
    void rejectsUnparsableConfigAndMissingWeights() throws IOException {
        Path dir = component("{\"num_layers\": 2,,}");
        DiffuseException e = openFails(dir);
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("cannot parse"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{}");
        DiffuseException none = openFails(dir);
        assertTrue(none.getMessage().contains("no weights"), none.getMessage());
    }
}
