package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.distributed.RankEnvironment;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.launch.ListenAddress;
import io.diffuse.core.generate.GenerationPlan;
import io.diffuse.core.generate.GenerationService;
import io.diffuse.core.serve.ManagedLayer;
import io.diffuse.core.serve.ServeRank;
import io.diffuse.core.serve.ServeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code diffuse serve}: starts the ranks once, loads the model once per rank, and serves the
 * OpenAI-compatible video API from rank 0 (docs/serving.md). Each request's settings are layered
 * over the server's configuration (re-read per job, so a {@code deploy/*.cfg} or ConfigAdmin change
 * applies from the next job on) and checked by the {@link GenerationService} before the job is
 * queued.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the OpenAI-compatible video API (POST /v1/videos ...) from ranks started once.",
            "Listens on 127.0.0.1:8000 by default; keys diffuse.serve.* (see docs/serving.md); plan flags as in generate."})
public final class ServeCommand extends RankedCommand {
    @Option(names = "--host", paramLabel = "ADDR", description = "Address to listen on (diffuse.serve.host, default 127.0.0.1).")
    String host;
    @Option(names = "--port", paramLabel = "N", description = "Port (diffuse.serve.port, default 8000; 0 = any free port).")
    Integer port;
    @Option(names = "--model", paramLabel = "DIR|builtin:NAME", description = "The model to serve (default builtin:demo).")
    String model;
    @Option(names = "--model-family", paramLabel = "NAME", description = "Model family (see `diffuse info`).")
    String modelFamily;
    @Option(names = "--output-dir", paramLabel = "DIR", description = "Folder for the jobs' videos (diffuse.serve.output-dir).")
    Path outputDir;

    /** Environment of restarted ranks: the port rank 0 listened on first (not a DIFFUSE_* key: no configuration layer). */
    static final String RESTART_PORT = "IO_DIFFUSE_SERVE_PORT";

    private final DiffusersCheckpointLoader checkpoints = new DiffusersCheckpointLoader();
    private GenerationService service;
    private GenerationPlan plan;
    private ServeSettings serve;
    private final ManagedLayer managed = new ManagedLayer(this::checkManaged);

    public ServeCommand(CliEnvironment env) {
        super(env);
        options.extraFlags = f -> {
            EngineOptions.put(f, "diffuse.serve.host", host);
            EngineOptions.put(f, "diffuse.serve.port", restartedOnPort().orElse(port));
            EngineOptions.put(f, "diffuse.generate.model", model);
            EngineOptions.put(f, "diffuse.generate.model-family", modelFamily);
            EngineOptions.put(f, "diffuse.serve.output-dir", outputDir == null ? null : outputDir.toString());
        };
    }

    @Override
    protected EngineSettings prepare(LayeredConfig layers) {
        try {
            Class.forName("org.eclipse.jetty.server.Server", false, ServeCommand.class.getClassLoader());
            Class.forName("com.fasterxml.jackson.databind.ObjectMapper", false, ServeCommand.class.getClassLoader());
            Class.forName("io.micrometer.prometheusmetrics.PrometheusMeterRegistry", false, ServeCommand.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new DiffuseException("diffuse serve needs Jetty 12, Jackson and Micrometer's Prometheus registry on the host's"
                    + " class path (" + e.getMessage() + " is missing); the distribution ships them in lib/");
        }
        serve = ServeSettings.from(layers.effective());
        String rank = environment().get(RankEnvironment.RANK);
        if (rank == null || rank.trim().equals("0")) {
            // The process that listens (or launches the one that will): a port held by another process is one
            // line now, before any rank loads the model, not a rank crash to restart for.
            ListenAddress.requireFree(serve.host(), serve.port());
        }
        try {
            Files.createDirectories(serve.outputDir());
        } catch (IOException e) {
            throw new DiffuseException("diffuse.serve.output-dir " + serve.outputDir() + " cannot be created: " + e.getMessage());
        }
        service = new GenerationService(env.registry(), checkpoints);
        plan = service.checkedPlan(layers.withDefault("diffuse.generate.output",
                serve.outputDir().resolve("startup-check.mp4").toString(), "diffuse serve"));
        return plan.settings();
    }

    /** The checked plan of one request: its flags over the server's, the configuration read now. */
    private synchronized GenerationPlan planFor(Map<String, Object> request) {
        return planWith(request, managed.usable(env.managedConfiguration().get()));
    }

    private GenerationPlan planWith(Map<String, Object> request, Map<String, ?> managedLayer) {
        Map<String, Object> f = options.flags();
        f.putAll(request);
        LayeredConfig layers = ConfigLoader.layers(options.configFile(), f, managedLayer, env.registry().classLoaders());
        // The world is fixed once the ranks run: where no layer gives a rank count, it is the running one.
        return service.checkedPlan(layers.withDefault("diffuse.parallel.nproc", plan.settings().parallel().nproc(),
                "diffuse serve: the running world"));
    }

    /** Plans a request with {@code managedLayer} as a job would; throws when that plan cannot run on this world. */
    private void checkManaged(Map<String, ?> managedLayer) {
        GenerationPlan p = planWith(Map.of("diffuse.generate.prompt", "deploy check", "diffuse.generate.output",
                serve.outputDir().resolve("deploy-check.mp4").toString()), managedLayer);
        int world = plan.settings().parallel().nproc();
        if (p.settings().parallel().nproc() != world) {
            throw new DiffuseException("the plan needs " + p.settings().parallel().nproc() + " ranks; this server runs " + world);
        }
    }

    /**
     * The port rank 0 listened on before its launcher restarted the ranks: {@code --port 0} picks one
     * port for the server's whole life, as clients know it (the launcher passes it on, see
     * {@link #launcherRestartEnvironment}).
     */
    private java.util.Optional<Integer> restartedOnPort() {
        Map<String, String> environ = environment();
        String chosen = environ.get(RESTART_PORT);
        if (chosen == null || environ.get(RankEnvironment.LOCAL_LAUNCHER) == null) {
            return java.util.Optional.empty();
        }
        try {
            return java.util.Optional.of(Integer.parseInt(chosen.trim()));
        } catch (NumberFormatException e) {
            return java.util.Optional.empty();
        }
    }

    @Override
    protected Map<String, String> launcherRestartEnvironment(String rank0Line) {
        int at = rank0Line.indexOf(ServeRank.LISTENING);
        if (at < 0) {
            return Map.of();
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(":(\\d+)\\s").matcher(rank0Line.substring(at
                + ServeRank.LISTENING.length()));
        return m.find() ? Map.of(RESTART_PORT, m.group(1)) : Map.of();
    }

    @Override
    protected Duration launcherStopGrace(EngineSettings settings) {
        return serve.drainTimeout().plus(serve.faultLinger()).plusSeconds(10);
    }

    @Override
    protected boolean abandonsOutputsOnStop() {
        return false; // on SIGTERM the drain finishes the running job, outputs included (ServeRank)
    }

    @Override
    protected int launcherRestarts(EngineSettings settings) {
        return serve.maxRestarts();
    }

    @Override
    protected Duration launcherFaultGrace(EngineSettings settings) {
        // A rank that hangs is noticed when a collective times out; then rank 0 lingers for clients.
        return settings.dist().timeout().plus(serve.faultLinger()).plusSeconds(10);
    }

    @Override
    protected int runOnRank(RankRuntime runtime) {
        return ServeRank.run(runtime, service, plan, serve, checkpoints, this::planFor, managed::describe,
                spec.commandLine().getOut(), spec.commandLine().getErr());
    }
}
