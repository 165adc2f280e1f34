package io.diffuse.core.serve;

import io.diffuse.api.dist.ProcessGroup;
import java.nio.charset.StandardCharsets;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Rank 0's orders to the other ranks, broadcast over the world group (Gloo on CPU) so that every
 * rank starts, steps, stops and ends the same job together. An order is a header (kind, payload
 * length) and, for a job, its payload: the job's settings as UTF-8 JSON in a uint8 tensor. While
 * idle, rank 0 sends a tick now and then, so that waiting ranks never hit the collective timeout
 * and a missing rank is noticed between jobs too. After each denoising step rank 0 broadcasts
 * whether to go on, so every rank stops at the same step.
 */
final class ControlPlane {
    static final int TICK = 0;
    static final int JOB = 1;
    static final int SHUTDOWN = 2;

    /** An order as received: its kind, and for a job the JSON. */
    record Order(int kind, String payload) {
    }

    private final ProcessGroup world;
    private final Device device;

    ControlPlane(ProcessGroup world, Device device) {
        this.world = world;
        this.device = device;
    }

    /** Rank 0: sends an order (payload null unless a job). */
    void send(int kind, String payload) {
        byte[] bytes = payload == null ? new byte[0] : payload.getBytes(StandardCharsets.UTF_8);
        try (PointerScope scope = new PointerScope()) {
            world.broadcast(torch.tensor(new long[] {kind, bytes.length}).to(device, ScalarType.Long), 0);
            if (bytes.length > 0) {
                Tensor body = torch.zeros(new long[] {bytes.length}, new TensorOptions(ScalarType.Byte));
                body.data_ptr_byte().put(bytes, 0, bytes.length);
                world.broadcast(body.to(device, ScalarType.Byte), 0);
            }
        }
    }

    /** Other ranks: waits for rank 0's next order. */
    Order receive() {
        try (PointerScope scope = new PointerScope()) {
            Tensor header = torch.zeros(new long[] {2}, new TensorOptions(ScalarType.Long)).to(device, ScalarType.Long);
            world.broadcast(header, 0);
            Tensor h = header.cpu();
            int kind = (int) h.data_ptr_long().get(0);
            int length = (int) h.data_ptr_long().get(1);
            if (length == 0) {
                return new Order(kind, null);
            }
            Tensor body = torch.zeros(new long[] {length}, new TensorOptions(ScalarType.Byte)).to(device, ScalarType.Byte);
            world.broadcast(body, 0);
            byte[] bytes = new byte[length];
            body.cpu().contiguous().data_ptr_byte().get(bytes, 0, length);
            return new Order(kind, new String(bytes, StandardCharsets.UTF_8));
        }
    }

    /**
     * After a denoising step, on every rank: rank 0's {@code decision} (0 = go on, else a reason
     * code) reaches every rank; returns it.
     */
    int agree(int decision) {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = torch.tensor(new long[] {decision}).to(device, ScalarType.Long);
            world.broadcast(t, 0);
            return (int) t.cpu().data_ptr_long().get(0);
        }
    }

    /** Every rank's process id, gathered once at start (rank 0 names a dead rank by it). */
    long[] processIds() {
        try (PointerScope scope = new PointerScope()) {
            Tensor all = world.allGather(torch.tensor(new long[] {ProcessHandle.current().pid()}).to(device, ScalarType.Long)).cpu();
            long[] pids = new long[world.size()];
            all.contiguous().data_ptr_long().get(pids, 0, pids.length);
            return pids;
        }
    }
}
