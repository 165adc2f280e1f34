package io.diffuse.api.dist;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.runtime.DeviceOps;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Work done once per group: rank 0 of a group computes named tensors, and every rank of the group ends
 * with them, bit for bit (a model plugin's prompt encoding, say, which the other ranks need not load
 * or run). With one rank it is just the computation. With more, rank 0 computes and broadcasts:
 * <ol>
 * <li>a Long (1) tensor: the header's length, or {@code -1 - n} when rank 0 failed, followed by its
 * error message as n UTF-8 bytes (at most 4 KiB): every other rank then stops with an error that quotes
 * it and rank 0 rethrows its own, so none waits in a collective;</li>
 * <li>the Long header: for each of the agreed keys, in their order, 0 when absent, else 1, the torch
 * dtype code, the byte count, the number of dims and the dims;</li>
 * <li>each present tensor as its raw bytes, a uint8 (nbytes) tensor on the run's device (skipped when
 * empty), viewed back as its dtype and reshaped on arrival.</li>
 * </ol>
 * Moving bytes rather than typed elements makes the copy bit-identical for every dtype (bool masks
 * included, which not every backend broadcasts as bool) through one code path. Tensors rank 0 makes
 * under other keys are not sent.
 */
public final class RootBroadcast {
    /** Longest failure message sent to the other ranks, in UTF-8 bytes. */
    static final int MAX_REASON_BYTES = 4096;

    private RootBroadcast() {
    }

    /**
     * The tensors {@code compute} makes on rank 0 of {@code group}, on every rank of it.
     *
     * @param group the ranks that need the tensors (called collectively by all of them)
     * @param device where the collectives run and the received tensors live
     * @param keys the names every rank expects, in one agreed order; a key rank 0 leaves out stays out
     * @param what what rank 0 computes, for the other ranks' error ("encode the prompt": "world rank 0
     *     failed to encode the prompt: " and rank 0's message)
     * @param compute run on rank 0 only
     * @return on rank 0 its own map (the same values), elsewhere the received tensors under {@code keys}
     */
    public static Map<String, Tensor> fromRoot(ProcessGroup group, Device device, List<String> keys, String what,
            Supplier<Map<String, Tensor>> compute) {
        if (group.size() == 1) {
            return compute.get();
        }
        boolean root = group.rank() == 0;
        Map<String, Tensor> computed = null;
        long[] header = null;
        Tensor headerTensor = null;
        Tensor[] payload = new Tensor[keys.size()];
        RuntimeException failure = null;
        if (root) {
            try {
                computed = compute.get();
                List<Long> h = new ArrayList<>();
                for (int k = 0; k < keys.size(); k++) {
                    Tensor t = computed.get(keys.get(k));
                    if (t == null) {
                        h.add(0L);
                        continue;
                    }
                    long[] dims = t.sizes().vec().get();
                    // (dims...) -> contiguous (numel,) -> (nbytes,) uint8, on the device the collective runs on.
                    payload[k] = t.to(device, t.scalar_type()).contiguous().reshape(-1).view(ScalarType.Byte);
                    h.add(1L);
                    h.add((long) t.scalar_type().value);
                    h.add(payload[k].numel());
                    h.add((long) dims.length);
                    for (long d : dims) {
                        h.add(d);
                    }
                }
                header = h.stream().mapToLong(Long::longValue).toArray();
                Tensor host = torch.zeros(new long[] {header.length}, new TensorOptions(ScalarType.Long));
                new LongPointer(host.data_ptr_long()).capacity(header.length).put(header);
                headerTensor = host.to(device, ScalarType.Long);
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        byte[] reason = failure == null ? new byte[0] : failureReason(failure);
        Tensor length = DeviceOps.zeros(new long[] {1}, ScalarType.Long, device);
        if (root) {
            length.fill_(new Scalar(failure == null ? header.length : -1 - reason.length));
        }
        group.broadcast(length, 0);
        long n = length.cpu().item_long();
        if (n < 0) {
            // Rank 0's message goes along: a launcher may stop rank 0 as soon as another rank exits, before
            // rank 0 printed it, so every rank's error says why.
            Tensor text = root ? hostBytes(reason).to(device, ScalarType.Byte)
                    : DeviceOps.zeros(new long[] {-1 - n}, ScalarType.Byte, device);
            if (text.numel() > 0) {
                group.broadcast(text, 0);
            }
            if (failure != null) {
                throw failure;
            }
            byte[] got = new byte[(int) text.numel()];
            if (got.length > 0) {
                new BytePointer(text.cpu().contiguous().data_ptr_byte()).get(got);
            }
            throw new DiffuseException(group.name() + " rank 0 failed to " + what + ": " + new String(got, StandardCharsets.UTF_8));
        }
        if (!root) {
            headerTensor = DeviceOps.zeros(new long[] {n}, ScalarType.Long, device);
        }
        group.broadcast(headerTensor, 0);
        if (!root) {
            header = new long[(int) n];
            new LongPointer(headerTensor.cpu().contiguous().data_ptr_long()).capacity(n).get(header);
        }
        Map<String, Tensor> received = new HashMap<>();
        int at = 0;
        for (int k = 0; k < keys.size(); k++) {
            if (header[at++] == 0) {
                continue;
            }
            ScalarType type = scalarType(header[at++]);
            long bytes = header[at++];
            long[] dims = new long[(int) header[at++]];
            for (int d = 0; d < dims.length; d++) {
                dims[d] = header[at++];
            }
            if (bytes == 0) {
                // Nothing to send: both sides know the (empty) shape from the header.
                received.put(keys.get(k), DeviceOps.zeros(dims, type, device));
                continue;
            }
            Tensor buffer = root ? payload[k] : DeviceOps.zeros(new long[] {bytes}, ScalarType.Byte, device);
            group.broadcast(buffer, 0);
            if (!root) {
                // (nbytes,) uint8 -> (numel,) of the sent dtype -> the sent shape.
                received.put(keys.get(k), buffer.view(type).reshape(dims));
            }
        }
        return root ? computed : received;
    }

    /** A failure's message as UTF-8, at most {@link #MAX_REASON_BYTES} (cut at a character boundary). */
    static byte[] failureReason(RuntimeException failure) {
        String message = failure.getMessage() == null ? failure.toString() : failure.getMessage();
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= MAX_REASON_BYTES) {
            return bytes;
        }
        int end = MAX_REASON_BYTES;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--; // back to the first byte of the character that would be cut
        }
        return Arrays.copyOf(bytes, end);
    }

    /** {@code bytes} as a CPU uint8 (n,) tensor. */
    private static Tensor hostBytes(byte[] bytes) {
        Tensor t = torch.zeros(new long[] {bytes.length}, new TensorOptions(ScalarType.Byte));
        if (bytes.length > 0) {
            new BytePointer(t.data_ptr_byte()).put(bytes);
        }
        return t;
    }

    /** The torch dtype with code {@code code} (ScalarType's value, the same on every rank's libtorch). */
    private static ScalarType scalarType(long code) {
        for (ScalarType t : ScalarType.values()) {
            if (t.value == code) {
                return t;
            }
        }
        throw new DiffuseException("rank 0 sent a tensor of unknown dtype code " + code);
    }
}
