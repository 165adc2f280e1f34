package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.CommStats;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.distributed.GroupTraffic;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code diffuse bench COMPONENT --model DIR --inputs IN}: times one model component's forward on
 * every rank (after warm-up forwards), and reports per forward the wall time (the slowest rank's,
 * median / mean / min over the timed forwards), the bytes this rank's process groups moved, and the
 * resident memory before and after. Rank 0 prints one Markdown table row, so runs of several plans
 * paste into one table. With {@code --rss-every K} rank 0 also prints its RSS every K forwards, to
 * show memory stays flat over many forwards.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = BenchServeCommand.class,
        description = {"Time one model component's forward (transformer, vae-encode, vae-decode) on tensors from a "
                + "safetensors file: wall time per forward, bytes moved per forward, resident memory.",
            "Parallel flags (--nproc, --ulysses, --ring ...) and --threads (intra-op threads per rank) apply as in generate."})
public final class BenchCommand extends RankedCommand {
    @Mixin
    ComponentOptions selection = new ComponentOptions();

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3", description = "Untimed forwards first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iterations", paramLabel = "N", defaultValue = "10", description = "Timed forwards (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--rss-every", paramLabel = "K", defaultValue = "0",
            description = "Print rank 0's resident memory every K forwards, warm-up included (0 = only before and after).")
    int rssEvery;

    @Option(names = "--label", paramLabel = "TEXT", description = "First column of the result row (default: the plan).")
    String label;

    public BenchCommand(CliEnvironment env) {
        super(env);
    }

    @Override
    protected EngineSettings prepare(LayeredConfig layers) {
        if (warmup < 0) {
            throw new DiffuseException("--warmup " + warmup + " must be 0 or more");
        }
        if (iterations < 1) {
            throw new DiffuseException("--iterations " + iterations + " must be at least 1");
        }
        if (rssEvery < 0) {
            throw new DiffuseException("--rss-every " + rssEvery + " must be 0 (off) or a positive forward count");
        }
        return selection.prepare(layers, env.registry());
    }

    @Override
    protected int runOnRank(RankRuntime runtime) {
        CheckpointLoader checkpoints = new DiffusersCheckpointLoader();
        ModelProvider provider = selection.provider();
        PrintWriter out = spec.commandLine().getOut();
        boolean rank0 = runtime.rank() == 0;
        ProcessGroup world = runtime.groups().world();
        try (PointerScope scope = new PointerScope();
                ComponentRunner runner = provider.component(selection.component, selection.model, runtime.context(checkpoints))) {
            Map<String, Tensor> file = checkpoints.readTensors(selection.inputs);
            List<String> missing = runner.requiredInputs().stream().filter(n -> !file.containsKey(n)).sorted().toList();
            if (!missing.isEmpty()) {
                throw new DiffuseException("--inputs " + selection.inputs + " lacks " + missing + " required by " + selection.component
                        + "; it has " + new TreeSet<>(file.keySet()));
            }
            Map<String, Tensor> in = new HashMap<>();
            runner.requiredInputs().forEach(n -> in.put(n, file.get(n)));

            long rssBefore = residentBytes();
            long[] nanos = new long[iterations];
            GroupTraffic moved = new GroupTraffic(Map.of());
            for (int i = 0; i < warmup + iterations; i++) {
                // Start every forward together, so the time is the forward's and not a late rank's.
                world.barrier();
                GroupTraffic before = GroupTraffic.of(runtime.groups());
                long start = System.nanoTime();
                try (PointerScope forward = new PointerScope()) {
                    runner.run(in);
                }
                long elapsed = System.nanoTime() - start;
                if (i >= warmup) {
                    nanos[i - warmup] = elapsed;
                    moved = moved.plus(GroupTraffic.of(runtime.groups()).minus(before));
                }
                if (rank0 && rssEvery > 0 && (i + 1) % rssEvery == 0) {
                    out.printf(Locale.ROOT, "rss after forward %d: %.1f MiB (%.2f s)%n", i + 1, residentBytes() / MIB, elapsed / 1e9);
                    out.flush();
                }
            }
            long rssAfter = residentBytes();

            // The run's time per forward is its slowest rank's; memory adds up over ranks.
            long[] slowest = nanos.clone();
            long[] rssAll = {rssBefore, rssAfter};
            if (world.size() > 1) {
                Tensor t = torch.tensor(nanos);
                world.allReduce(t, ReduceOp.MAX);
                slowest = longs(t);
                Tensor r = torch.tensor(rssAll);
                world.allReduce(r, ReduceOp.SUM);
                rssAll = new long[] {r.select(0, 0).item_long(), r.select(0, 1).item_long()};
            }
            if (rank0) {
                out.print(report(runtime.settings(), label, Summary.of(Arrays.stream(slowest).mapToDouble(n -> n / 1e9).toArray()), moved, iterations, rssBefore, rssAfter,
                        rssAll, world.size()));
                out.flush();
            }
            return 0;
        }
    }

    private static long[] longs(Tensor t) {
        long[] d = new long[(int) t.numel()];
        for (int i = 0; i < d.length; i++) {
            d[i] = t.select(0, i).item_long();
        }
        return d;
    }

    private static final double MIB = 1024.0 * 1024.0;

    /** Median, mean and minimum of some timings, in seconds. */
    record Summary(double median, double mean, double min) {
        static Summary of(double[] seconds) {
            if (seconds.length == 0) {
                throw new IllegalArgumentException("no timings");
            }
            double[] s = seconds.clone();
            Arrays.sort(s);
            int n = s.length;
            double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            return new Summary(median, Arrays.stream(s).average().orElseThrow(), s[0]);
        }
    }

    /** The plan in words, e.g. "1 rank x 2 threads" or "ulysses 2 x ring 1 (2 ranks x 1 thread)". */
    static String plan(EngineSettings s) {
        EngineSettings.Parallel p = s.parallel();
        String threads = s.threads() == 0 ? "default threads (" + torch.get_num_threads() + ")"
                : s.threads() + (s.threads() == 1 ? " thread" : " threads");
        String ranks = p.nproc() + (p.nproc() == 1 ? " rank" : " ranks") + " x " + threads;
        if (p.nproc() == 1) {
            return ranks;
        }
        return p.strategy() + " u" + p.ulysses() + " r" + p.ring() + (p.cfg() > 1 ? " cfg" + p.cfg() : "") + " (" + ranks + ")";
    }

    /** Header, one Markdown table row, and the per-kind traffic of rank 0. */
    static String report(EngineSettings settings, String label, Summary time, GroupTraffic moved, int iterations,
            long rssBefore, long rssAfter, long[] rssAllRanks, int ranks) {
        StringBuilder b = new StringBuilder();
        CommStats.Counter total = moved.total();
        b.append("| plan | dtype | median ms | mean ms | min ms | MB sent / fwd / rank | collectives / fwd "
                + "| RSS rank 0 MiB before -> after | RSS all ranks MiB after |\n");
        b.append("|---|---|---|---|---|---|---|---|---|\n");
        b.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.1f | %.3f | %.1f | %.0f -> %.0f | %.0f |%n",
                label != null ? label : plan(settings), settings.dtype().name().toLowerCase(Locale.ROOT),
                time.median() * 1e3, time.mean() * 1e3, time.min() * 1e3, total.bytesSent() / 1e6 / iterations,
                (double) total.calls() / iterations, rssBefore / MIB, rssAfter / MIB, rssAllRanks[1] / MIB));
        if (!moved.byKind().isEmpty()) {
            b.append("traffic per forward, rank 0:");
            moved.byKind().forEach((kind, c) -> {
                if (c.bytesSent() > 0 || c.bytesReceived() > 0) {
                    b.append(String.format(Locale.ROOT, " %s %.1f calls %d B sent %d B received;", kind,
                            (double) c.calls() / iterations, c.bytesSent() / iterations, c.bytesReceived() / iterations));
                }
            });
            b.append('\n');
        }
        int threads = settings.threads() == 0 ? torch.get_num_threads() : settings.threads();
        int cores = Runtime.getRuntime().availableProcessors();
        if ((long) ranks * threads > cores) {
            b.append(String.format(Locale.ROOT, "note: %d ranks x %d threads = %d threads on %d cores (oversubscribed)%n",
                    ranks, threads, ranks * threads, cores));
        }
        return b.toString();
    }

    /** This process's resident set size (VmRSS of /proc/self/status), or -1 where that file does not exist. */
    static long residentBytes() {
        return io.diffuse.core.distributed.ProcessMemory.residentBytes().orElse(-1);
    }
}
