package io.diffuse.core.serve;

import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.generate.GenerationPlan;
import io.diffuse.core.generate.GenerationService;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One rank of {@code diffuse serve}: loads the model once, then rank 0 serves HTTP and schedules
 * jobs while the other ranks follow its orders. On SIGTERM every rank lets the loop end (rank 0
 * stops admitting, finishes or stops the running job, fails the queued ones and orders the others
 * to stop) and exits 0.
 */
public final class ServeRank {
    /** How rank 0's line that names its address begins: {@code diffuse serve: listening on http://HOST:PORT ...}. */
    public static final String LISTENING = "diffuse serve: listening on http://";

    private ServeRank() {
    }

    /**
     * Serves until shut down.
     *
     * @param planner request flags to a checked plan (the configuration re-read for each job)
     * @param managedLayer the managed layer as the planner last used it ({@link ManagedLayer#describe})
     * @return this rank's exit code
     */
    public static int run(RankRuntime runtime, GenerationService service, GenerationPlan loaded, ServeSettings settings,
            CheckpointLoader checkpoints, Function<Map<String, Object>, GenerationPlan> planner,
            java.util.function.Supplier<Map<String, Object>> managedLayer, PrintWriter out, PrintWriter err) {
        boolean rank0 = runtime.rank() == 0;
        // ImageIO's file cache for streams (an upload's input_reference) adds a shutdown hook on first use,
        // which a JVM that is stopping refuses: an upload under way at a SIGTERM failed. Memory serves as well.
        javax.imageio.ImageIO.setUseCache(false);
        String modelId = loaded.model().source().toString();
        RestartBudget restarts = RestartBudget.from(System.getenv());
        VideoServer server = rank0 ? new VideoServer(settings, modelId, loaded.model().family(), runtime.worldSize(), planner,
                restarts, runtime.device().is_cuda(), service::estimateMemory) : null;
        if (server != null) {
            server.managedLayer(managedLayer);
        }
        CountDownLatch loopDone = new CountDownLatch(1);
        AtomicInteger exitCode = new AtomicInteger(1);
        Duration wait = settings.drainTimeout().plus(settings.faultLinger()).plusSeconds(30);
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Thread hook = new Thread(() -> {
            stopping.set(true);
            if (server != null) {
                server.beginDrain();
            }
            boolean drained = false;
            try {
                drained = loopDone.await(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (!drained) {
                // The job outlived the drain: leave none of its outputs half written.
                io.diffuse.core.video.OutputTransaction.abandonOpen();
            }
            out.flush();
            err.flush();
            System.out.flush();
            System.err.flush();
            // A drained stop is a clean exit, not 143 for SIGTERM.
            Runtime.getRuntime().halt(exitCode.get());
        }, "diffuse-serve-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        GenerationService.Session session = null;
        try {
            if (server != null) {
                int port = server.start();
                out.println(LISTENING + settings.host() + ":" + port + " (" + modelId + ", "
                        + runtime.worldSize() + " rank(s)); outputs in " + settings.outputDir());
                out.flush();
            }
            session = service.open(runtime, loaded);
            ControlPlane control = new ControlPlane(runtime.controlGroup(), runtime.device());
            long[] pids = control.processIds();
            // Every rank's first report, so rank 0 admits only what every rank can run from the start.
            String[] reports = control.exchange(RankInventory.of(runtime.registry(), runtime.device()).toJson());
            JobRunner runner = new JobRunner(runtime, session, control, checkpoints);
            if (server != null) {
                server.reports(reports);
                server.ready();
                out.println("diffuse serve: ready" + (restarts.count() > 0 ? " (" + restarts.describe() + ")" : ""));
                out.flush();
                server.runScheduler(runner, control, pids, p -> runtime.groups(p.settings().parallel().plan()),
                        runtime.settings().dist().timeout(), () -> RankInventory.of(runtime.registry(), runtime.device()));
            } else {
                follow(runner, control, runtime);
            }
            exitCode.set(0);
            return 0;
        } catch (RuntimeException | Error e) {
            if (stopping.get()) {
                // The JVM is stopping (SIGTERM): the command line will not get to print this.
                err.println("error: " + e.getMessage());
                org.slf4j.LoggerFactory.getLogger(ServeRank.class).debug("rank {} stopped", runtime.rank(), e);
            }
            throw e;
        } finally {
            if (server != null) {
                server.stopHttp();
            }
            if (session != null) {
                session.close();
            }
            loopDone.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it exits with exitCode
            }
        }
    }

    /** A rank other than 0: runs rank 0's orders until it says stop. */
    private static void follow(JobRunner runner, ControlPlane control, RankRuntime runtime) {
        while (true) {
            ControlPlane.Order order = control.receive();
            switch (order.kind()) {
                case ControlPlane.TICK -> control.exchange(RankInventory.of(runtime.registry(), runtime.device()).toJson());
                case ControlPlane.SHUTDOWN -> {
                    return;
                }
                case ControlPlane.JOB -> runner.run(JobRunner.parse(order.payload()), ProgressListener.NONE,
                        () -> JobRunner.GO_ON, agreed -> { });
                default -> throw new IllegalStateException("unknown order " + order.kind() + " from rank 0");
            }
        }
    }
}
