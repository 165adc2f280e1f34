package io.diffuse.vaepp;

import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.randn;

import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.vae.TilePlan;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.api.vae.VaeRun;
import io.diffuse.core.distributed.C10dWorld;
import io.diffuse.core.distributed.LocalGroups;
import io.diffuse.core.distributed.RankEnvironment;
import io.diffuse.core.distributed.StoreServer;
import io.diffuse.core.local.TiledVaeExecutor;
import io.diffuse.hunyuan15.vae.AutoencoderKLHunyuanVideo15;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Patch-parallel VAE decode benchmark (tools/bench/vaepp_bench.sh, docs/benchmarks.md): a tiny-channel
 * HunyuanVideo 1.5 VAE (random weights, the real 16x compression and 256 px / 0.25 tiling) decodes a
 * large latent with the single-rank "tiled" executor and with "patch-parallel" on 1, 2 and 4 ranks.
 * Every rank is its own JVM over Gloo on loopback, so its peak memory is its own: the growth of VmHWM
 * over VmRSS just before the first decode (weights and input loaded, one tile decoded as a warm-up, VmHWM
 * reset through /proc/self/clear_refs). Result on rank 0 only.
 *
 * <p>Usage: {@code VaePatchParallelBench <latentT> <latentH> <latentW> <ranks,...> [repeat]}; one line
 * per configuration: best wall time of {@code repeat} decodes (the first included), bytes moved, peak
 * memory of the largest rank and of rank 0, balance efficiency and a checksum of the result (equal
 * checksums across lines: same bits, which the unit tests prove exactly).
 */
public final class VaePatchParallelBench {
    private VaePatchParallelBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--rank")) {
            rank(args);
            return;
        }
        long t = Long.parseLong(args[0]);
        long h = Long.parseLong(args[1]);
        long w = Long.parseLong(args[2]);
        int repeat = args.length > 4 ? Integer.parseInt(args[4]) : 2;
        System.out.printf("latent (1, 4, %d, %d, %d) -> video %d frames %dx%d px; %d cores%n", t, h, w, 1 + 4 * (t - 1),
                h * 16, w * 16, Runtime.getRuntime().availableProcessors());
        System.out.println("| executor | ranks | tiles/rank | balance eff. | decode s (best) | max tile s | bytes moved"
                + " (total sent) | held MiB, rank 0 | held MiB, other ranks max | RSS peak MiB, rank 0 | RSS peak MiB,"
                + " other ranks max | checksum |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
        launch("tiled", 1, t, h, w, repeat);
        for (String n : args[3].split(",")) {
            launch("patch-parallel", Integer.parseInt(n), t, h, w, repeat);
        }
    }

    /** Starts {@code n} rank JVMs over one store and prints their combined line. */
    private static void launch(String executor, int n, long t, long h, long w, int repeat) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        try (StoreServer server = StoreServer.start("127.0.0.1", 0, n, Duration.ofMinutes(10))) {
            List<Process> procs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                procs.add(new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                        VaePatchParallelBench.class.getName(), "--rank", Integer.toString(r), Integer.toString(n),
                        Integer.toString(server.port()), executor, Long.toString(t), Long.toString(h),
                        Long.toString(w), Integer.toString(repeat)).redirectErrorStream(true).start());
            }
            List<String[]> results = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                String result = null;
                try (BufferedReader in = new BufferedReader(new InputStreamReader(procs.get(r).getInputStream()))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("RESULT ")) {
                            result = line.substring(7);
                        } else if (line.contains("Exception") || line.contains("ERROR")) {
                            System.err.println("rank " + r + ": " + line);
                        }
                    }
                }
                if (procs.get(r).waitFor() != 0 || result == null) {
                    throw new IllegalStateException(executor + " on " + n + " ranks: rank " + r + " failed");
                }
                results.add(result.split(" "));
            }
            // fields: seconds tileSeconds sent peakBytes tiles efficiency checksum
            double seconds = 0;
            double tileSeconds = 0;
            long sent = 0;
            long peakOthers = 0;
            long heldOthers = 0;
            int maxTiles = 0;
            for (int r = 0; r < n; r++) {
                String[] f = results.get(r);
                seconds = Math.max(seconds, Double.parseDouble(f[0]));
                tileSeconds = Math.max(tileSeconds, Double.parseDouble(f[1]));
                sent += Long.parseLong(f[2]);
                if (r > 0) {
                    peakOthers = Math.max(peakOthers, Long.parseLong(f[3]));
                    heldOthers = Math.max(heldOthers, Long.parseLong(f[7]));
                }
                maxTiles = Math.max(maxTiles, Integer.parseInt(f[4]));
            }
            String[] zero = results.get(0);
            System.out.printf("| %s | %d | %d | %s | %.2f | %.2f | %d | %.1f | %s | %.1f | %s | %s |%n", executor, n,
                    maxTiles, zero[5], seconds, tileSeconds, sent, Long.parseLong(zero[7]) / 1048576.0,
                    n > 1 ? String.format("%.1f", heldOthers / 1048576.0) : "-", Long.parseLong(zero[3]) / 1048576.0,
                    n > 1 ? String.format("%.1f", peakOthers / 1048576.0) : "-", zero[6]);
        }
    }

    /** One rank: join, build the VAE and the latent, decode {@code repeat} times, print RESULT. */
    private static void rank(String[] a) throws IOException {
        int rank = Integer.parseInt(a[1]);
        int n = Integer.parseInt(a[2]);
        int port = Integer.parseInt(a[3]);
        String executorName = a[4];
        long t = Long.parseLong(a[5]);
        long h = Long.parseLong(a[6]);
        long w = Long.parseLong(a[7]);
        int repeat = Integer.parseInt(a[8]);
        torch.set_num_threads(Math.max(1, Runtime.getRuntime().availableProcessors() / n));
        C10dWorld world = n > 1
                ? C10dWorld.join(new RankEnvironment(rank, n, rank, "127.0.0.1", port), "gloo", Duration.ofMinutes(10), false)
                : null;
        ProcessGroups groups = world != null ? world.groups(new ParallelPlan(n, n, 1, 1, n)) : LocalGroups.create();
        VaeExecutor executor = executorName.equals("tiled") ? new TiledVaeExecutor() : new PatchParallelVaeExecutor();
        try (PointerScope scope = new PointerScope();
                AutoencoderKLHunyuanVideo15 vae = RandomVae.create(RandomVae.config(16, 8), 11)) {
            manual_seed(5);
            Tensor latent = randn(1, 4, t, h, w);
            VaeRun run = new VaeRun(TilingSettings.defaults(true), groups, false);
            try (PointerScope warmUp = new PointerScope()) {
                vae.decodeTile(randn(1, 4, t, 16, 16)); // one tile: one-off kernel and allocator set-up
            }
            Files.writeString(Path.of("/proc/self/clear_refs"), "5"); // resets VmHWM to the current RSS
            long baseline = statusKb("VmRSS");
            double best = Double.MAX_VALUE;
            long peak = 0;
            String checksum = "";
            double tileSeconds = 0;
            long sent = 0;
            int tiles = 1;
            String efficiency = "1.000";
            long held = 0;
            for (int i = 0; i < repeat; i++) {
                groups.world().barrier();
                long start = System.nanoTime();
                try (PointerScope decode = new PointerScope()) {
                    Tensor out = executor.decode(vae, latent, run);
                    best = Math.min(best, (System.nanoTime() - start) / 1e9);
                    if (i == 0) {
                        peak = (statusKb("VmHWM") - baseline) * 1024;
                        if (executor instanceof TiledVaeExecutor) {
                            held = tiledHeldBytes(h, w, out);
                        }
                        if (out.numel() > 0) {
                            checksum = String.format("%.6e/%.6e", out.to(ScalarType.Double).sum().item_double(),
                                    out.to(ScalarType.Double).square().sum().item_double());
                        }
                    }
                }
                PatchParallelVaeExecutor.RunReport report = PatchParallelVaeExecutor.lastRun();
                if (report != null) {
                    tileSeconds = report.tileNanos() / 1e9;
                    sent = report.bytesSent();
                    tiles = report.endTile() - report.firstTile();
                    efficiency = String.format("%.3f", report.balanceEfficiency());
                    held = Math.max(held, report.peakHeldBytes());
                }
            }
            System.out.printf("RESULT %.3f %.3f %d %d %d %s %s %d%n", best, tileSeconds, sent, peak, tiles, efficiency,
                    checksum.isEmpty() ? "-" : checksum, held);
        }
        if (world != null) {
            world.closeGracefully();
        }
    }

    /**
     * What the "tiled" executor holds at its peak, counted the way {@link PatchParallelVaeExecutor.RunReport#peakHeldBytes}
     * counts: every raw tile output (all alive until the merge), the concatenated rows, and the result.
     */
    private static long tiledHeldBytes(long h, long w, Tensor out) {
        TilePlan plan = TilePlan.decode(h, w, TilingSettings.defaults(true), 16);
        long perPixel = out.nbytes() / (out.size(3) * out.size(4)); // B * C * T * bytes per element
        long raw = 0;
        for (TilePlan.Tile tile : plan.tiles()) {
            raw += plan.outputSize(tile.height()) * plan.outputSize(tile.width()) * perPixel;
        }
        return raw + 2 * out.nbytes();
    }

    private static long statusKb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException(field);
    }
}
