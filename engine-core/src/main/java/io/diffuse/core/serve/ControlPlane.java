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
 * Rank 0's orders to the other ranks and the ranks' reports back, over the runtime's control group
 * (Gloo on CPU tensors, also when the data plane is NCCL), so that every rank starts, steps, stops and
 * ends the same job together. An order is a header (kind, payload length) and, for a job, its
 * payload: the job's settings as UTF-8 JSON. While idle, rank 0 sends a tick now and then, after
 * which every rank reports what it has installed and its resident memory; so waiting ranks never hit
 * the collective timeout, a missing rank is noticed between jobs too, and rank 0 knows what each rank
 * can run. After each denoising step the ranks gather rank 0's decision (go on or stop) with every
 * rank's resident memory, so every rank stops at the same step.
 */
final class ControlPlane {
    static final int TICK = 0;
    static final int JOB = 1;
    static final int SHUTDOWN = 2;

    /** An order as received: its kind, and for a job the JSON. */
    record Order(int kind, String payload) {
    }

    /**
     * What the ranks agreed after a step: rank 0's decision, each rank's resident bytes and, on CUDA,
     * the bytes its caching allocator holds for tensors (0 on the CPU).
     */
    record StepAgreement(int decision, long[] residentBytes, long[] deviceBytes) {
    }

    private final ProcessGroup group;
    private final Device device;

    /** @param device the rank's device, whose memory the ranks report (no control tensor goes there) */
    ControlPlane(ProcessGroup group, Device device) {
        this.group = group;
        this.device = device;
    }

    int ranks() {
        return group.size();
    }

    /** Rank 0: sends an order (payload null unless a job). */
    void send(int kind, String payload) {
        byte[] bytes = payload == null ? new byte[0] : payload.getBytes(StandardCharsets.UTF_8);
        try (PointerScope scope = new PointerScope()) {
            group.broadcast(torch.tensor(new long[] {kind, bytes.length}), 0);
            if (bytes.length > 0) {
                group.broadcast(bytesTensor(bytes, bytes.length), 0);
            }
        }
    }

    /** Other ranks: waits for rank 0's next order. */
    Order receive() {
        try (PointerScope scope = new PointerScope()) {
            Tensor header = torch.zeros(new long[] {2}, new TensorOptions(ScalarType.Long));
            group.broadcast(header, 0);
            int kind = (int) header.data_ptr_long().get(0);
            int length = (int) header.data_ptr_long().get(1);
            if (length == 0) {
                return new Order(kind, null);
            }
            Tensor body = torch.zeros(new long[] {length}, new TensorOptions(ScalarType.Byte));
            group.broadcast(body, 0);
            byte[] bytes = new byte[length];
            body.data_ptr_byte().get(bytes, 0, length);
            return new Order(kind, new String(bytes, StandardCharsets.UTF_8));
        }
    }

    /**
     * After a denoising step, on every rank: rank 0's {@code decision} (0 = go on, else a reason
     * code) reaches every rank, together with every rank's resident memory.
     */
    StepAgreement agree(int decision) {
        try (PointerScope scope = new PointerScope()) {
            // [ranks * 3]: per rank its decision (only rank 0's counts), resident bytes, device bytes.
            Tensor all = group.allGather(torch.tensor(new long[] {decision, residentBytes(), deviceAllocatedBytes(device)}));
            long[] values = new long[3 * group.size()];
            all.contiguous().data_ptr_long().get(values, 0, values.length);
            long[] rss = new long[group.size()];
            long[] dev = new long[group.size()];
            for (int r = 0; r < rss.length; r++) {
                rss[r] = values[3 * r + 1];
                dev[r] = values[3 * r + 2];
            }
            return new StepAgreement((int) values[0], rss, dev);
        }
    }

    /** Every rank's {@code mine} (UTF-8 text of any length), on every rank, indexed by rank. */
    String[] exchange(String mine) {
        byte[] bytes = mine.getBytes(StandardCharsets.UTF_8);
        try (PointerScope scope = new PointerScope()) {
            Tensor lengths = group.allGather(torch.tensor(new long[] {bytes.length}));
            long[] n = new long[group.size()];
            lengths.contiguous().data_ptr_long().get(n, 0, n.length);
            long longest = 0;
            for (long l : n) {
                longest = Math.max(longest, l);
            }
            String[] all = new String[group.size()];
            if (longest == 0) {
                java.util.Arrays.fill(all, "");
                return all;
            }
            // Padded to the longest so that every rank contributes the same shape: [ranks * longest].
            Tensor gathered = group.allGather(bytesTensor(bytes, (int) longest)).contiguous();
            byte[] flat = new byte[(int) (longest * group.size())];
            gathered.data_ptr_byte().get(flat, 0, flat.length);
            for (int r = 0; r < all.length; r++) {
                all[r] = new String(flat, (int) (r * longest), (int) n[r], StandardCharsets.UTF_8);
            }
            return all;
        }
    }

    /** Every rank's process id, gathered once at start (rank 0 names a dead rank by it). */
    long[] processIds() {
        try (PointerScope scope = new PointerScope()) {
            Tensor all = group.allGather(torch.tensor(new long[] {ProcessHandle.current().pid()}));
            long[] pids = new long[group.size()];
            all.contiguous().data_ptr_long().get(pids, 0, pids.length);
            return pids;
        }
    }

    private static Tensor bytesTensor(byte[] bytes, int length) {
        Tensor t = torch.zeros(new long[] {length}, new TensorOptions(ScalarType.Byte));
        t.data_ptr_byte().put(bytes, 0, bytes.length);
        return t;
    }

    /** Bytes the CUDA caching allocator holds for tensors on {@code device} now; 0 for any other device. */
    static long deviceAllocatedBytes(Device device) {
        if (device == null || !device.is_cuda()) {
            return 0;
        }
        byte index = device.has_index() ? device.index() : org.bytedeco.pytorch.global.torch_cuda.current_device();
        // StatArray element 0 is the aggregate over the allocator's pools (as StageClock reads the peak).
        return org.bytedeco.pytorch.global.torch_cuda.getAllocator().getDeviceStats(index).allocated_bytes().current();
    }

    /** VmRSS of this process (Linux), else 0. */
    static long residentBytes() {
        return io.diffuse.core.distributed.ProcessMemory.residentBytes().orElse(0);
    }
}
