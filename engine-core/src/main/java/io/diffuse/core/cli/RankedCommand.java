package io.diffuse.core.cli;

import com.typesafe.config.Config;
import io.diffuse.api.DiffuseException;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.dist.EngineRuntime;
import io.diffuse.core.dist.RankEnvironment;
import io.diffuse.core.launch.LocalLauncher;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Base of commands that run on every rank. Started by a user with {@code --nproc N > 1} (and no
 * RANK in the environment) it is the launcher: it spawns N copies of this host's command with the
 * same arguments (see {@link LocalLauncher}) and returns rank 0's exit code. Started as a rank (by
 * the launcher or torchrun) it joins the distributed runtime and runs {@link #runOnRank}; if that
 * fails, the rank's groups are torn down at once so the other ranks fail fast too.
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

    /** The work of one rank; returns this rank's exit code. */
    protected abstract int runOnRank(EngineRuntime runtime);

    /** Lets a command set defaults that depend on other values (e.g. comm-check's Ulysses degree). */
    protected Config adjust(Config config) {
        return config;
    }

    /**
     * With {@code nproc > 1} and no sequence or cfg degree given, puts every rank into one
     * sequence-parallel group of kind {@code degreeKey} (diffuse.parallel.ulysses or .ring), so
     * {@code --nproc N} alone is a valid layout.
     */
    protected static Config allRanksInOneGroup(Config config, String degreeKey, String origin) {
        int nproc = config.getInt("diffuse.parallel.nproc");
        boolean noDegrees = config.getInt("diffuse.parallel.ulysses") == 1 && config.getInt("diffuse.parallel.ring") == 1
                && config.getInt("diffuse.parallel.cfg") == 1;
        if (nproc > 1 && noDegrees) {
            return config.withValue(degreeKey, com.typesafe.config.ConfigValueFactory.fromAnyRef(nproc, origin));
        }
        return config;
    }

    /**
     * Checks that need the settings (installed plugins, the model's shape), run before ranks are
     * spawned or joined, so a bad value fails once, at once, and costs no rank start-up. Ranks run
     * the same command and repeat them; they are cheap. Default: none.
     */
    protected void checkBeforeRanks(EngineSettings settings) {
    }

    /** The process environment (RANK and friends). */
    protected Map<String, String> environment() {
        return System.getenv();
    }

    @Override
    public Integer call() {
        Map<String, String> environ = environment();
        boolean isRank = environ.get(RankEnvironment.RANK) != null;
        if (isRank && options.nproc == null && environ.get(RankEnvironment.WORLD_SIZE) != null) {
            // Under torchrun the world size comes from the environment.
            try {
                options.nproc = Integer.parseInt(environ.get(RankEnvironment.WORLD_SIZE).trim());
            } catch (NumberFormatException e) {
                throw new DiffuseException("environment variable WORLD_SIZE='" + environ.get(RankEnvironment.WORLD_SIZE)
                        + "' is not an integer");
            }
        }
        EngineSettings settings = EngineSettings.from(adjust(options.config(env.registry())));
        io.diffuse.core.dist.DeviceAvailability.require(settings.device());
        checkBeforeRanks(settings);
        if (!isRank && settings.parallel().nproc() > 1) {
            CliEnvironment.ProcessCommand rankCommand = env.rankCommand().orElseThrow(() -> new DiffuseException(
                    "this host cannot start rank processes for --nproc " + settings.parallel().nproc()
                            + "; run the ranks with torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)"));
            List<String> command = new ArrayList<>(rankCommand.prefix());
            command.addAll(spec.root().commandLine().getParseResult().originalArgs());
            return LocalLauncher.launch(command, settings.parallel().nproc(), settings.dist().masterAddr(),
                    settings.dist().masterPort(), settings.dist().timeout(), spec.commandLine().getOut(),
                    spec.commandLine().getErr());
        }
        try (EngineRuntime runtime = EngineRuntime.join(settings, env.registry(), environ)) {
            try {
                return runOnRank(runtime);
            } catch (RuntimeException | Error e) {
                runtime.abort();
                throw e;
            }
        }
    }
}
