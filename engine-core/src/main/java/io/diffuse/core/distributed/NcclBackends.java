package io.diffuse.core.distributed;

import io.diffuse.api.DiffuseException;
import java.time.Duration;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;

/**
 * ProcessGroupNCCL creation, kept apart so the NCCL classes load only when the backend is nccl
 * (the default CPU natives have no NCCL). Untested here: the build machines have no GPU.
 */
final class NcclBackends {
    private NcclBackends() {
    }

    static Backend create(Store store, int rank, int size, Duration timeout) {
        try {
            ProcessGroupNCCL.Options opts = ProcessGroupNCCL.Options.create();
            opts.timeout(new Milliseconds(timeout.toMillis()));
            return new ProcessGroupNCCL(store, rank, size, opts);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            throw new DiffuseException("diffuse.dist.backend = nccl, but these libtorch natives have no NCCL (CPU build); "
                    + "build with the cuda profile (linux-x86_64-gpu natives) or use gloo", e);
        }
    }
}
