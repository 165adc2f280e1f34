package io.diffuse.core.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one-line errors of broken model folders and tensor files, word for word. */
class CheckpointMessagesTest {
    @TempDir
    Path tmp;
    private final DiffusersCheckpointLoader loader = new DiffusersCheckpointLoader();

    private Path pipelineRoot(String modelIndex) throws IOException {
        Path transformer = Files.createDirectories(tmp.resolve("transformer"));
        Files.writeString(transformer.resolve("config.json"), "{}");
        try (PointerScope scope = new PointerScope()) {
            loader.writeTensors(transformer.resolve(DiffusersCheckpointLoader.WEIGHTS), Map.of("w", torch.ones(2)));
        }
        Files.writeString(tmp.resolve("model_index.json"), modelIndex);
        return tmp;
    }

    @Test
    void anUnparsableModelIndexIsNamedWithItsParseError() throws IOException {
        Path root = pipelineRoot("{\"_class_name\": HunyuanVideo15Pipeline}");
        DiffuseException e = assertThrows(DiffuseException.class, () -> loader.open(root, "transformer").close());
        assertEquals("cannot parse " + root.resolve("model_index.json") + " as a JSON object: " + root.resolve("model_index.json")
                + ": 1: Token not allowed in valid JSON: 'HunyuanVideo15Pipeline'", e.getMessage());
    }

    @Test
    void aTensorFileWithNoTensorsSaysSo() throws IOException {
        Path file = tmp.resolve("embeds.safetensors");
        byte[] header = "{}".getBytes(StandardCharsets.UTF_8);
        Files.write(file, ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header)
                .array());
        DiffuseException e = assertThrows(DiffuseException.class, () -> loader.readTensors(file));
        assertEquals("tensor file " + file + " holds no tensors; write the tensors into it (safetensors with named tensors,"
                + " e.g. safetensors.torch.save_file)", e.getMessage());
    }

    @Test
    void anUnreadableFileSaysPermissionDenied() throws IOException {
        Path weights = tmp.resolve("diffusion_pytorch_model.safetensors");
        // java.nio's exception for an unreadable file carries only the path as its message.
        assertEquals("permission denied", SafetensorsFile.reason(new AccessDeniedException(weights.toString())));
        // root reads any file, so the whole path is checked only as another user.
        assumeFalse("root".equals(System.getProperty("user.name")), "running as root: every file is readable");
        Path root = pipelineRoot("{\"_class_name\": \"HunyuanVideo15Pipeline\"}");
        Path file = root.resolve("transformer").resolve(DiffusersCheckpointLoader.WEIGHTS);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("---------"));
        DiffuseException e = assertThrows(DiffuseException.class, () -> loader.open(root, "transformer").close());
        assertEquals("cannot open safetensors file " + file + ": permission denied", e.getMessage());
    }
}
