package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.config.PluginConfigurationCheck;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.distributed.RankEnvironment;
import io.diffuse.core.launch.LocalLauncher;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Base of commands that run on every rank. First {@link #prepare} builds the configuration (the one
 * path: {@link EngineOptions#layers}) and checks everything that can be known before a rank starts,
 * so a bad value fails once, at once, and costs no rank start-up. Started by a user with
 * {@code --nproc N > 1} (and no RANK in the environment) the command is then the launcher: it spawns
 * N copies of this host's command with the same arguments (see {@link LocalLauncher}) and returns
 * rank 0's exit code. Started as a rank (by the launcher or torchrun) it joins the distributed runtime
 * and runs {@link #runOnRank}; if that fails, the rank's groups are torn down at once so the other
 * ranks fail fast too.
 */
public abstract class RankedCommand implements Callable<Integer> {
    protected final CliEnvironment env;

    @Spec
    protected CommandSpec spec;

    @Mixin
    protected ParallelOptions options = new ParallelOptions();

    protected RankedCommand(CliEnvironment env) {
        this.env = env;
    }

    /**
     * Builds the effective settings from the configuration layers (adding defaults that depend on
     * other settings) and checks them, before any rank starts; ranks run it again, with the same result.
     */
    protected abstract EngineSettings prepare(LayeredConfig layers);

    /** The work of one rank; returns this rank's exit code. */
    protected abstract int runOnRank(RankRuntime runtime);

    /**
     * How long ranks may take to finish when the launcher is told to stop (SIGTERM); zero (the
     * default) kills them at once. A server drains its work in this time.
     */
    protected java.time.Duration launcherStopGrace(EngineSettings settings) {
        return java.time.Duration.ZERO;
    }

    /**
     * How often the launcher restarts all ranks after one failed (0, the default: it stops them and
     * exits 1); a server restarts them and reloads.
     */
    protected int launcherRestarts(EngineSettings settings) {
        return 0;
    }

    /** How long rank 0 may take to notice a failed rank and exit by itself before it is stopped (with a stop grace). */
    protected java.time.Duration launcherFaultGrace(EngineSettings settings) {
        return java.time.Duration.ZERO;
    }

    /**
     * Whether a graceful stop (Ctrl-C, SIGTERM) of a rank removes the outputs it is writing (the default:
     * a run's outputs are all or nothing); a server's drain finishes them instead.
     */
    protected boolean abandonsOutputsOnStop() {
        return true;
    }

    /**
     * What the ranks of a restart must find in their environment, read from a line of rank 0's output
     * (see {@link LocalLauncher}); none by default.
     */
    protected Map<String, String> launcherRestartEnvironment(String rank0Line) {
        return Map.of();
    }

    /** The process environment (RANK and friends). */
    protected Map<String, String> environment() {
        return System.getenv();
    }

    @Override
    public Integer call() {
        Map<String, String> environ = environment();
        boolean isRank = environ.get(RankEnvironment.RANK) != null;
        boolean external = isRank && environ.get(RankEnvironment.LOCAL_LAUNCHER) == null;
        if (external && options.nproc == null && environ.get(RankEnvironment.WORLD_SIZE) != null) {
            // Under torchrun the world size is a setting made by the user's launcher.
            try {
                options.nproc = Integer.parseInt(environ.get(RankEnvironment.WORLD_SIZE).trim());
            } catch (NumberFormatException e) {
                throw new DiffuseException("environment variable WORLD_SIZE='" + environ.get(RankEnvironment.WORLD_SIZE)
                        + "' is not an integer");
            }
        }
        EngineSettings settings = prepare(options.layers(env));
        io.diffuse.core.distributed.DeviceAvailability.require(settings.device());
        PluginConfigurationCheck.run(env.registry(), settings);
        if (!isRank && settings.parallel().nproc() > 1) {
            CliEnvironment.ProcessCommand rankCommand = env.rankCommand().orElseThrow(() -> new DiffuseException(
                    "this host cannot start rank processes for --nproc " + settings.parallel().nproc()
                            + "; run the ranks with torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)"));
            List<String> command = new ArrayList<>(rankCommand.prefix());
            // The -Ddiffuse.* layer travels to the ranks like the flags do (after the java executable).
            command.addAll(1, LocalLauncher.diffuseSystemProperties());
            command.addAll(spec.root().commandLine().getParseResult().originalArgs());
            return LocalLauncher.launch(command, settings.parallel().nproc(), settings.dist().masterAddr(),
                    settings.dist().masterPort(), settings.dist().timeout(), spec.commandLine().getOut(),
                    spec.commandLine().getErr(), launcherStopGrace(settings), launcherRestarts(settings),
                    launcherFaultGrace(settings), this::launcherRestartEnvironment);
        }
        if (abandonsOutputsOnStop()) {
            io.diffuse.core.video.OutputTransaction.abandonOpenOnStop(); // now: a JVM that is stopping takes no hook
        }
        try (RankRuntime runtime = RankRuntime.join(settings, env.registry(), environ)) {
            try {
                return runOnRank(runtime);
            } catch (RuntimeException | Error e) {
                runtime.abort();
                throw e;
            }
        }
    }
}
