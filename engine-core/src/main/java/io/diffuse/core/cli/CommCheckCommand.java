package io.diffuse.core.cli;

import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.config.ParallelDefaults;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.core.distributed.CollectiveCheck;
import io.diffuse.core.distributed.RankRuntime;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code diffuse comm-check --nproc N}: every collective the engine uses, on the world and on each
 * sub-group of the layout, with exact result checks and bandwidth per collective. Exit code 0 only
 * when every result on every rank was exact.
 */
@Command(name = "comm-check", mixinStandardHelpOptions = true,
        description = {"Run every collective the engine uses (all_reduce, broadcast, all_gather, all_to_all, "
                + "send/recv around a ring, barrier) across the ranks, on the world and on the sub-groups of the "
                + "layout; verify every result exactly and print bandwidth per collective.",
                "Without degrees, --nproc N checks ulysses = N; give --ulysses/--ring/--cfg-parallel/--vae-parallel "
                        + "to check other layouts."})
public final class CommCheckCommand extends RankedCommand {
    @Option(names = "--size", paramLabel = "BYTES", defaultValue = "1048576",
            description = "Bytes of each rank's input per collective (default ${DEFAULT-VALUE}).")
    long size;

    @Option(names = "--iterations", paramLabel = "N", defaultValue = "5",
            description = "Checked and timed calls per collective and group (default ${DEFAULT-VALUE}).")
    int iterations;

    public CommCheckCommand(CliEnvironment env) {
        super(env);
    }

    @Override
    protected EngineSettings prepare(LayeredConfig layers) {
        if (size < 4) {
            throw new io.diffuse.api.DiffuseException("--size " + size + " is too small; give at least 4 bytes (one fp32 element)");
        }
        if (iterations < 1) {
            throw new io.diffuse.api.DiffuseException("--iterations " + iterations + " must be at least 1");
        }
        return EngineSettings.from(ParallelDefaults.allRanksInOneGroup(layers, ParallelDefaults.ULYSSES).effective());
    }

    @Override
    protected int runOnRank(RankRuntime runtime) {
        PrintWriter out = spec.commandLine().getOut();
        int rank = runtime.rank();
        ProcessGroups groups = runtime.groups();
        StringBuilder layout = new StringBuilder();
        for (ProcessGroup g : CollectiveCheck.groupsOf(groups)) {
            layout.append(' ').append(g.name()).append(g.globalRanks());
        }
        out.println("rank " + rank + " groups ready:" + layout);
        out.flush();
        List<CollectiveCheck.Result> results = CollectiveCheck.run(groups, runtime.device(), size, iterations, it -> { });

        int mismatches = results.stream().mapToInt(CollectiveCheck.Result::mismatches).sum();
        for (CollectiveCheck.Result r : results) {
            if (r.firstMismatch() != null) {
                out.println("rank " + rank + " MISMATCH: " + r.firstMismatch() + " (" + r.mismatches() + " of " + r.calls() + " calls)");
            }
        }
        long totalMismatches;
        try (PointerScope scope = new PointerScope()) {
            Tensor count = torch.full(new long[] {1}, new Scalar((double) mismatches));
            groups.world().allReduce(count, ReduceOp.SUM);
            totalMismatches = (long) count.item_double();
        }
        if (rank == 0) {
            out.println("comm-check: " + runtime.worldSize() + " ranks, " + groups.plan() + ", backend "
                    + runtime.settings().dist().backend() + ", " + human(size) + " per rank, " + iterations + " iterations");
            out.printf(Locale.ROOT, "%-12s %3s %-11s %10s %11s %12s %14s %12s %12s%n", "group", "P", "collective", "payload",
                    "time/call", "payload MB/s", "sent/call", "recv/call", "sent MB/s");
            for (CollectiveCheck.Result r : results) {
                out.printf(Locale.ROOT, "%-12s %3d %-11s %10s %8.3f ms %12.1f %14s %12s %12.1f%n", r.group(), r.groupSize(),
                        r.collective(), human(r.payloadBytes()), r.secondsPerCall() * 1e3, r.payloadBytesPerSecond() / 1e6,
                        human(r.bytesSent() / Math.max(1, r.calls())), human(r.bytesReceived() / Math.max(1, r.calls())),
                        r.sentBytesPerSecond() / 1e6);
            }
            out.println(totalMismatches == 0
                    ? "comm-check passed: " + results.size() + " collective checks per rank, every result exact"
                    : "comm-check FAILED: " + totalMismatches + " wrong results over all ranks (see MISMATCH lines)");
        }
        out.flush();
        return totalMismatches == 0 ? 0 : 1;
    }

    private static String human(long bytes) {
        if (bytes >= 1 << 20) {
            return String.format(Locale.ROOT, "%.2f MiB", bytes / (double) (1 << 20));
        }
        if (bytes >= 1 << 10) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        return bytes + " B";
    }
}
