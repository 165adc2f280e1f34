package io.diffuse.core.checkpoint;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.runtime.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.bytedeco.pytorch.Tensor;

/** A diffusers component folder: config.json plus one or several (sharded) safetensors files. */
final class DiffusersCheckpoint implements Checkpoint {
    /** How many problems of each kind {@link #verify} spells out before summarising. */
    private static final int LISTED = 20;

    private final Path directory;
    private final Map<String, Object> config;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> fileOf;

    DiffusersCheckpoint(Path directory, Map<String, Object> config, List<SafetensorsFile> files,
            Map<String, SafetensorsFile> fileOf) {
        this.directory = directory;
        this.config = config;
        this.files = files;
        this.fileOf = Collections.unmodifiableMap(new TreeMap<>(fileOf));
    }

    @Override
    public Path directory() {
        return directory;
    }

    @Override
    public Map<String, Object> config() {
        return config;
    }

    @Override
    public Set<String> keys() {
        return fileOf.keySet();
    }

    @Override
    public long[] shape(String key) {
        return entry(key).shape().clone();
    }

    @Override
    public Tensor load(String key, DType dtype) {
        SafetensorsFile file = file(key);
        SafetensorsFile.Entry e = file.entries().get(key);
        if (!e.dtype().isFloating()) {
            // Integer and boolean tensors keep their type; a model asking for weights gets floats.
            return file.read(key, null);
        }
        return file.read(key, dtype.scalarType());
    }

    private SafetensorsFile file(String key) {
        SafetensorsFile f = fileOf.get(key);
        if (f == null) {
            throw new DiffuseException("checkpoint " + directory + " has no tensor '" + key + "'");
        }
        return f;
    }

    private SafetensorsFile.Entry entry(String key) {
        return file(key).entries().get(key);
    }

    @Override
    public void verify(Map<String, long[]> expected) {
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> wrongShape = new ArrayList<>();
        for (Map.Entry<String, long[]> e : new TreeMap<>(expected).entrySet()) {
            SafetensorsFile f = fileOf.get(e.getKey());
            if (f == null) {
                missing.add(e.getKey());
            } else {
                long[] actual = f.entries().get(e.getKey()).shape();
                if (!Arrays.equals(actual, e.getValue())) {
                    wrongShape.add("'" + e.getKey() + "' in " + f.path().getFileName() + ": " + Arrays.toString(actual)
                            + ", expected " + Arrays.toString(e.getValue()));
                }
            }
        }
        for (Map.Entry<String, SafetensorsFile> e : fileOf.entrySet()) {
            if (!expected.containsKey(e.getKey())) {
                unexpected.add("'" + e.getKey() + "' in " + e.getValue().path().getFileName());
            }
        }
        if (missing.isEmpty() && unexpected.isEmpty() && wrongShape.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder("checkpoint " + directory + " does not match the model configured by its config.json:");
        describe(sb, "missing tensors", missing.stream().map(k -> "'" + k + "'").toList());
        describe(sb, "unexpected tensors", unexpected);
        describe(sb, "tensors with the wrong shape", wrongShape);
        sb.append("\ncheck that config.json belongs to these weights and that the folder is the right component");
        throw new DiffuseException(sb.toString());
    }

    private static void describe(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) {
            return;
        }
        sb.append("\n  ").append(items.size()).append(' ').append(what).append(": ");
        sb.append(String.join(", ", items.subList(0, Math.min(LISTED, items.size()))));
        if (items.size() > LISTED) {
            sb.append(", ... (").append(items.size() - LISTED).append(" more)");
        }
    }

    @Override
    public void close() {
        for (SafetensorsFile f : files) {
            f.close();
        }
    }
}
