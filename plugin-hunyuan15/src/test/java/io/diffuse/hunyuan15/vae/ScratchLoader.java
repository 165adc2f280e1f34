package io.diffuse.hunyuan15.vae;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

// TEMPORARY scratch loader until the engine-core checkpoint loader lands; not committed.
final class ScratchLoader implements CheckpointLoader {
    static Map<String, Tensor> read(Path file) {
        try {
            byte[] all = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            String json = new String(all, 8, (int) n, "UTF-8");
            Map<String, Object> h = ConfigFactory.parseString(json, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON)).root().unwrapped();
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (var e : h.entrySet()) {
                if (e.getKey().equals("__metadata__")) continue;
                @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) e.getValue();
                List<?> shape = (List<?>) m.get("shape"); List<?> off = (List<?>) m.get("data_offsets");
                long[] s = shape.stream().mapToLong(o -> ((Number) o).longValue()).toArray();
                int a = ((Number) off.get(0)).intValue(), b = ((Number) off.get(1)).intValue();
                BytePointer p = new BytePointer(b - a); p.put(all, (int) (8 + n + a), b - a);
                var st = m.get("dtype").equals("BF16") ? torch.ScalarType.BFloat16 : torch.ScalarType.Float;
                Tensor t = torch.from_blob(p, s, new org.bytedeco.pytorch.TensorOptions(st)).clone().to(torch.ScalarType.Float);
                out.put(e.getKey(), t);
            }
            return out;
        } catch (java.io.IOException e) { throw new RuntimeException(e); }
    }
    public Checkpoint open(Path dir, String component) {
        Path d = Files.exists(dir.resolve(component)) ? dir.resolve(component) : dir;
        Map<String, Tensor> w = read(d.resolve("diffusion_pytorch_model.safetensors"));
        Map<String, Object> cfg;
        try { cfg = ConfigFactory.parseString(Files.readString(d.resolve("config.json")), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON)).root().unwrapped(); } catch (java.io.IOException e) { throw new RuntimeException(e); }
        return new Checkpoint() {
            public Path directory() { return d; }
            public Map<String, Object> config() { return cfg; }
            public Set<String> keys() { return w.keySet(); }
            public long[] shape(String k) { return w.get(k).sizes().vec().get(); }
            public Tensor load(String k, DType dt) { return w.get(k).clone(); }
            public void verify(Map<String, long[]> exp) {
                if (!exp.keySet().equals(w.keySet())) { Set<String> a = new TreeSet<>(exp.keySet()); a.removeAll(w.keySet()); Set<String> b = new TreeSet<>(w.keySet()); b.removeAll(exp.keySet()); throw new RuntimeException("missing " + a + " unexpected " + b); }
                exp.forEach((k, s) -> { if (!Arrays.equals(s, shape(k))) throw new RuntimeException(k + Arrays.toString(s) + " vs " + Arrays.toString(shape(k))); });
            }
            public void close() { }
        };
    }
    public Map<String, Tensor> readTensors(Path file) { return read(file); }
    public void writeTensors(Path file, Map<String, Tensor> t) { throw new UnsupportedOperationException(); }
}
