package io.diffuse.core.serve;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.dist.CollectiveException;
import io.diffuse.api.model.GenerationInterruptedException;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.generate.GenerateSettings;
import io.diffuse.core.generate.GenerationService;
import io.diffuse.core.generate.VideoSize;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one job on this rank, the same way on every rank: the job's effective configuration (as
 * rank 0 decided it and broadcast it) gives its request and its plan; the plan's groups come from
 * the runtime's cache; after every denoising step the ranks agree with rank 0 whether to go on.
 *
 * <p>Before the job the ranks tell each other whether they have what its plan names (a strategy
 * bundle may be missing on one rank); after it, how it ended. A failure inside one rank's own work
 * (a native allocation that failed, a bad input file) thus fails the job on every rank together and
 * the server runs the next job; only a failed collective ({@link CollectiveException}: a rank died or
 * stalled) leaves the group unusable and is thrown on.
 */
final class JobRunner {
    private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

    /** Why the ranks stopped a job between steps (0 = they did not). */
    static final int GO_ON = 0;
    static final int CANCELLED = 1;
    static final int TIMED_OUT = 2;
    static final int SHUTTING_DOWN = 3;

    /**
     * How a job ended on every rank.
     *
     * @param result this rank's result, null if the job did not complete here
     * @param stopped the agreed stop reason, or {@link #GO_ON}
     * @param stoppedWhere where the ranks stopped ("stopped after denoising step 3 of 200"), or null
     * @param notRunnable per rank: what it lacks to start the job ("" = nothing); non-empty somewhere = never started
     * @param errors per rank: its error's first line ("" = none)
     * @param written the size of the video this rank decoded (rank 0: the one it wrote), or null
     */
    record Outcome(GenerationResult result, int stopped, String stoppedWhere, String[] notRunnable, String[] errors,
            VideoSize written) {
        boolean started() {
            return java.util.Arrays.stream(notRunnable).allMatch(String::isEmpty);
        }

        boolean failed() {
            return java.util.Arrays.stream(errors).anyMatch(e -> !e.isEmpty());
        }
    }

    private final RankRuntime runtime;
    private final GenerationService.Session session;
    private final ControlPlane control;
    private final CheckpointLoader checkpoints;

    JobRunner(RankRuntime runtime, GenerationService.Session session, ControlPlane control, CheckpointLoader checkpoints) {
        this.runtime = runtime;
        this.session = session;
        this.control = control;
        this.checkpoints = checkpoints;
    }

    /** The job's configuration, parsed the same on every rank. */
    static Config parse(String payload) {
        return ConfigFactory.parseString(payload);
    }

    /**
     * Runs the job whose configuration is {@code config} on this rank, collectively with the others.
     *
     * @param progress sees its stages and steps
     * @param decision rank 0's answer after each step (other ranks pass anything)
     * @param memory receives every rank's memory after each step
     * @throws CollectiveException when the ranks can no longer talk (a rank died or stalled)
     */
    Outcome run(Config config, ProgressListener progress, IntSupplier decision, Consumer<ControlPlane.StepAgreement> memory) {
        EngineSettings settings = EngineSettings.from(config);
        List<String> lacking = RankInventory.of(runtime.registry(), runtime.device()).missing(settings);
        String[] notRunnable = control.exchange(lacking.isEmpty() ? "" : String.join(", ", lacking) + " is not installed");
        String[] noErrors = new String[notRunnable.length];
        java.util.Arrays.fill(noErrors, "");
        if (java.util.Arrays.stream(notRunnable).anyMatch(s -> !s.isEmpty())) {
            return new Outcome(null, GO_ON, null, notRunnable, noErrors, null);
        }
        int[] stopped = new int[1];
        ProgressListener listener = new ProgressListener() {
            @Override
            public void stageStarted(String stage) {
                progress.stageStarted(stage);
            }

            @Override
            public void step(String stage, int step, int total) {
                progress.step(stage, step, total);
            }

            @Override
            public void stageFinished(String stage) {
                progress.stageFinished(stage);
            }

            @Override
            public boolean interruptRequested(String stage, int step, int total) {
                ControlPlane.StepAgreement agreed = control.agree(runtime.rank() == 0 ? decision.getAsInt() : GO_ON);
                memory.accept(agreed);
                stopped[0] = agreed.decision();
                return agreed.decision() != GO_ON;
            }
        };
        GenerationResult result = null;
        VideoSize[] written = new VideoSize[1];
        String error = "";
        String stoppedWhere = null;
        try {
            RuntimeContext context = runtime.context(checkpoints, settings);
            // A boundary every rank reaches: a cancel asked while the job was being prepared stops it here.
            if (listener.interruptRequested("prepare", 0, 0)) {
                throw new GenerationInterruptedException("prepare");
            }
            result = session.generate(GenerateSettings.from(config), context, listener, line -> { }, size -> written[0] = size);
        } catch (GenerationInterruptedException agreed) {
            // every rank stopped at the same step; rank 0 reports why
            stoppedWhere = agreed.getMessage();
        } catch (CollectiveException e) {
            throw e;
        } catch (RuntimeException | OutOfMemoryError e) {
            // This rank's own work failed: tell the others, so they end the job too rather than wait for it.
            error = firstLine(e);
            LOG.info("rank {}: the job failed here: {}", runtime.rank(), error);
            LOG.debug("rank {}: the job's failure", runtime.rank(), e);
        }
        if (result == null) {
            // Stopped or failed: what the job's tensors left unscoped goes with a collection.
            System.gc();
        }
        // Give the job's freed native memory back to the system (glibc keeps freed heap pages otherwise).
        org.bytedeco.javacpp.Pointer.trimMemory();
        return new Outcome(result, stopped[0], stoppedWhere, notRunnable, control.exchange(error), written[0]);
    }

    static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (e instanceof OutOfMemoryError) {
            m = "Java heap: " + m;
        }
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
