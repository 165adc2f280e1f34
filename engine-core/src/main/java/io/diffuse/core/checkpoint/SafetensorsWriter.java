package io.diffuse.core.checkpoint;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/** Writes tensors as one safetensors file, atomically: a temporary file next to the target, then a rename. */
final class SafetensorsWriter {
    private SafetensorsWriter() {
    }

    static void write(Path file, Map<String, Tensor> tensors) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try (PointerScope scope = new PointerScope()) {
            List<String> names = new ArrayList<>(tensors.keySet());
            names.sort(null);
            List<Tensor> cpu = new ArrayList<>();
            StringBuilder header = new StringBuilder("{");
            long offset = 0;
            for (String name : names) {
                Tensor t = tensors.get(name);
                if (t == null) {
                    throw new DiffuseException("cannot write " + file + ": tensor '" + name + "' is null");
                }
                SafetensorsDType dtype = SafetensorsDType.of(t.scalar_type());
                if (dtype == null) {
                    throw new DiffuseException("cannot write tensor '" + name + "' to " + file + ": dtype " + t.scalar_type()
                            + " has no safetensors code; supported: " + SafetensorsDType.supportedCodes());
                }
                Tensor c = (t.is_cpu() ? t : t.to(new Device("cpu"), t.scalar_type())).contiguous();
                cpu.add(c);
                long n = c.nbytes();
                if (header.length() > 1) {
                    header.append(',');
                }
                header.append(quote(name)).append(":{\"dtype\":\"").append(dtype.code).append("\",\"shape\":[");
                for (int d = 0; d < c.dim(); d++) {
                    header.append(d == 0 ? "" : ",").append(c.size(d));
                }
                header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + n).append("]}");
                offset += n;
            }
            header.append('}');
            // Pad the header with spaces to a multiple of 8 so every tensor starts aligned.
            int pad = (8 - header.toString().getBytes(StandardCharsets.UTF_8).length % 8) % 8;
            header.append(" ".repeat(pad));
            byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
            if (dir != null) {
                Files.createDirectories(dir);
            }
            tmp = Files.createTempFile(dir, file.getFileName().toString() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length);
                writeFully(ch, len.flip());
                writeFully(ch, ByteBuffer.wrap(headerBytes));
                for (Tensor c : cpu) {
                    long n = c.nbytes();
                    if (n == 0) {
                        continue;
                    }
                    BytePointer data = new BytePointer(c.data_ptr()).capacity(n);
                    // asByteBuffer is limited to 2 GiB; write larger tensors in windows.
                    long done = 0;
                    while (done < n) {
                        long w = Math.min(1L << 30, n - done);
                        BytePointer window = new BytePointer(data).position(done).capacity(done + w);
                        writeFully(ch, window.asByteBuffer());
                        done += w;
                    }
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new DiffuseException("cannot write safetensors file " + file + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort cleanup of the temporary file
                }
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
