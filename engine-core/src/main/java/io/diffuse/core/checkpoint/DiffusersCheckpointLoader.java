package io.diffuse.core.checkpoint;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.pytorch.Tensor;

/**
 * The engine's {@link CheckpointLoader}: diffusers layout (a pipeline root with model_index.json
 * and component subfolders, or a component folder with config.json) over memory-mapped
 * safetensors files, single or sharded through {@code diffusion_pytorch_model.safetensors.index.json}.
 * transformers components (text and image encoders) name their weights {@code model.safetensors}
 * (or {@code model.safetensors.index.json}); those names are read when the diffusers ones are absent.
 */
public final class DiffusersCheckpointLoader implements CheckpointLoader {
    static final String WEIGHTS = "diffusion_pytorch_model.safetensors";
    static final String INDEX = "diffusion_pytorch_model.safetensors.index.json";
    static final String TRANSFORMERS_WEIGHTS = "model.safetensors";
    static final String TRANSFORMERS_INDEX = "model.safetensors.index.json";

    @Override
    public Checkpoint open(Path dir, String component) {
        Path folder = componentFolder(dir, component);
        Map<String, Object> config = parseJsonObject(folder.resolve("config.json")).unwrapped();
        Path single = folder.resolve(WEIGHTS);
        Path index = folder.resolve(INDEX);
        if (!Files.isRegularFile(single) && !Files.isRegularFile(index)) {
            single = folder.resolve(TRANSFORMERS_WEIGHTS);
            index = folder.resolve(TRANSFORMERS_INDEX);
        }
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> fileOf = new TreeMap<>();
        try {
            if (Files.isRegularFile(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                files.add(f);
                f.entries().keySet().forEach(k -> fileOf.put(k, f));
            } else if (Files.isRegularFile(index)) {
                openShards(folder, index, files, fileOf);
            } else {
                throw new DiffuseException("no weights in " + folder + ": expected " + WEIGHTS + ", " + INDEX + ", "
                        + TRANSFORMERS_WEIGHTS + " or " + TRANSFORMERS_INDEX);
            }
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new DiffusersCheckpoint(folder, config, files, fileOf);
    }

    /** The component folder: {@code dir/component} under a pipeline root, or {@code dir} itself. */
    static Path componentFolder(Path dir, String component) {
        if (!Files.isDirectory(dir)) {
            throw new DiffuseException("model folder " + dir + " does not exist or is not a directory");
        }
        if (Files.isRegularFile(dir.resolve("model_index.json"))) {
            // Parsed only to check it: a broken file is named with its parse error, not mistaken for a missing one.
            parseJsonObject(dir.resolve("model_index.json"));
            Path sub = dir.resolve(component);
            if (!Files.isRegularFile(sub.resolve("config.json"))) {
                throw new DiffuseException("pipeline root " + dir + " (it has model_index.json) has no " + component
                        + "/config.json; pass the pipeline root of a complete download or the " + component + " folder itself");
            }
            return sub;
        }
        if (Files.isRegularFile(dir.resolve("config.json"))) {
            return dir;
        }
        if (Files.isRegularFile(dir.resolve(component).resolve("config.json"))) {
            return dir.resolve(component);
        }
        throw new DiffuseException(dir + " is neither a diffusers pipeline root (model_index.json) nor a component folder"
                + " (config.json); pass the folder that holds model_index.json or the " + component + " folder");
    }

    private static void openShards(Path folder, Path index, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileOf) {
        ConfigValue weightMap = parseJsonObject(index).get("weight_map");
        if (weightMap == null || weightMap.valueType() != ConfigValueType.OBJECT) {
            throw new DiffuseException("sharded checkpoint index " + index + " has no object 'weight_map'");
        }
        Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
        for (Map.Entry<String, ConfigValue> e : ((ConfigObject) weightMap).entrySet()) {
            if (e.getValue().valueType() != ConfigValueType.STRING) {
                throw new DiffuseException("sharded checkpoint index " + index + ": tensor '" + e.getKey()
                        + "' maps to a non-string shard name");
            }
            String shardName = (String) e.getValue().unwrapped();
            Path shardPath = folder.resolve(shardName).normalize();
            if (!shardPath.getParent().equals(folder.normalize())) {
                throw new DiffuseException("sharded checkpoint index " + index + ": shard '" + shardName
                        + "' of tensor '" + e.getKey() + "' is not a file in " + folder);
            }
            SafetensorsFile shard = byShard.get(shardName);
            if (shard == null) {
                if (!Files.isRegularFile(shardPath)) {
                    throw new DiffuseException("sharded checkpoint index " + index + " names shard " + shardPath
                            + " (for tensor '" + e.getKey() + "'), which does not exist; the download is incomplete");
                }
                shard = SafetensorsFile.open(shardPath);
                files.add(shard);
                byShard.put(shardName, shard);
            }
            if (!shard.entries().containsKey(e.getKey())) {
                throw new DiffuseException("sharded checkpoint index " + index + " places tensor '" + e.getKey() + "' in "
                        + shardPath + ", which does not contain it");
            }
            fileOf.put(e.getKey(), shard);
        }
        for (SafetensorsFile shard : byShard.values()) {
            for (String key : shard.entries().keySet()) {
                if (fileOf.get(key) != shard) {
                    throw new DiffuseException("tensor '" + key + "' in shard " + shard.path()
                            + " is not listed for that shard in " + index + "; the index and the shards disagree");
                }
            }
        }
    }

    /** Parses a JSON file whose top level is an object; errors name the file. */
    static ConfigObject parseJsonObject(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DiffuseException("cannot read " + file + ": " + SafetensorsFile.reason(e), e);
        }
        try {
            return ConfigFactory.parseString(text, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON)
                    .setOriginDescription(file.toString())).root();
        } catch (ConfigException e) {
            throw new DiffuseException("cannot parse " + file + " as a JSON object: " + e.getMessage(), e);
        }
    }

    @Override
    public Map<String, Tensor> readTensors(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DiffuseException("tensor file " + file + " does not exist");
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (f.entries().isEmpty()) {
                // An empty map would read as "no tensors given" (e.g. no --prompt-embeds) further on.
                throw new DiffuseException("tensor file " + file + " holds no tensors; write the tensors into it (safetensors"
                        + " with named tensors, e.g. safetensors.torch.save_file)");
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : f.entries().keySet()) {
                // Copied, not mapped: inputs are small and their files may be rewritten by whoever wrote them.
                out.put(name, f.read(name, null, true));
            }
            return out;
        }
    }

    @Override
    public void writeTensors(Path file, Map<String, Tensor> tensors) {
        SafetensorsWriter.write(file, tensors);
    }
}
