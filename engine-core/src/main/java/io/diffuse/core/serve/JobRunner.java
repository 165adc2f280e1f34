package io.diffuse.core.serve;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.generate.GenerateSettings;
import io.diffuse.core.generate.GenerationService;
import java.util.function.IntSupplier;

/**
 * Runs one job on this rank, the same way on every rank: the job's effective configuration (as
 * rank 0 decided it and broadcast it) gives its request and its plan; the plan's groups come from
 * the runtime's cache; after every denoising step the ranks agree with rank 0 whether to go on.
 */
final class JobRunner {
    /** Why the ranks stopped a job between steps (0 = they did not). */
    static final int GO_ON = 0;
    static final int CANCELLED = 1;
    static final int TIMED_OUT = 2;
    static final int SHUTTING_DOWN = 3;

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
     * Runs the job whose configuration is {@code config}; {@code progress} sees its stages and steps
     * and {@code decision} is rank 0's answer after each step (other ranks pass anything).
     *
     * @return the result; {@code stopped[0]} receives the agreed stop reason, if any
     * @throws io.diffuse.api.model.GenerationInterruptedException when the ranks agreed to stop
     */
    GenerationResult run(Config config, ProgressListener progress, IntSupplier decision, int[] stopped) {
        EngineSettings settings = EngineSettings.from(config);
        GenerateSettings request = GenerateSettings.from(config);
        RuntimeContext context = runtime.context(checkpoints, settings);
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
                int agreed = control.agree(runtime.rank() == 0 ? decision.getAsInt() : GO_ON);
                stopped[0] = agreed;
                return agreed != GO_ON;
            }
        };
        return session.generate(request, context, listener, line -> { });
    }
}
