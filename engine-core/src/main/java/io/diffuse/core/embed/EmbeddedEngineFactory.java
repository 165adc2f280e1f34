package io.diffuse.core.embed;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.embed.DiffuseEngine;
import io.diffuse.api.embed.EngineFactory;
import io.diffuse.api.embed.VideoRequest;
import io.diffuse.api.embed.VideoResult;
import io.diffuse.core.generate.VideoSize;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.config.PluginConfigurationCheck;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.distributed.RankEnvironment;
import io.diffuse.core.generate.GenerationPlan;
import io.diffuse.core.generate.GenerationService;
import io.diffuse.core.launch.LocalLauncher;
import io.diffuse.core.registry.PluginRegistry;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine behind {@link io.diffuse.api.embed.Diffuse} on the plain class path: plugins found with
 * ServiceLoader, configuration built the same way as the command line's (flags = the builder's
 * settings, then system properties, environment, file, references), the same
 * {@link GenerationService} for planning, checks, loading and running.
 */
public final class EmbeddedEngineFactory implements EngineFactory {
    @Override
    public DiffuseEngine create(Spec spec) {
        PluginRegistry registry = new ServiceLoaderRegistry();
        Map<String, Object> settings = new LinkedHashMap<>(spec.settings());
        String worldSize = spec.environment().get(RankEnvironment.WORLD_SIZE);
        if (spec.environment().get(RankEnvironment.RANK) != null && worldSize != null) {
            // A rank of a torchrun-style world: its size is the user's setting.
            settings.putIfAbsent("diffuse.parallel.nproc", worldSize.trim());
        } else {
            // Not a rank of a world: this process is the whole run (launchLocalRanks starts worlds).
            settings.putIfAbsent("diffuse.parallel.nproc", 1);
        }
        return new Engine(registry, spec, settings);
    }

    @Override
    public int launchLocalRanks(int nproc, String mainClass, List<String> args) {
        if (nproc < 1) {
            throw new DiffuseException("launchLocalRanks: nproc " + nproc + " must be at least 1");
        }
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(LocalLauncher.diffuseSystemProperties());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(args);
        EngineSettings defaults = EngineSettings.from(ConfigLoader.layers(null, Map.of("diffuse.parallel.nproc", nproc,
                "diffuse.parallel.ring", nproc), Map.of(), new ServiceLoaderRegistry().classLoaders()).effective());
        return LocalLauncher.launch(command, nproc, defaults.dist().masterAddr(), defaults.dist().masterPort(),
                defaults.dist().timeout(), new PrintWriter(System.out, true), new PrintWriter(System.err, true));
    }

    /** One rank's engine: the world joined and the model loaded once. */
    private static final class Engine implements DiffuseEngine {
        private final PluginRegistry registry;
        private final Spec spec;
        private final Map<String, Object> settings;
        private final GenerationService service;
        private final GenerationPlan loaded;
        private final RankRuntime runtime;
        private final GenerationService.Session session;

        Engine(PluginRegistry registry, Spec spec, Map<String, Object> settings) {
            this.registry = registry;
            this.spec = spec;
            this.settings = settings;
            this.service = new GenerationService(registry, new DiffusersCheckpointLoader());
            this.loaded = service.plan(layers(Map.of()));
            io.diffuse.core.distributed.DeviceAvailability.require(loaded.settings().device());
            PluginConfigurationCheck.run(registry, loaded.settings());
            io.diffuse.core.video.OutputTransaction.abandonOpenOnStop(); // as the commands do, at start
            this.runtime = RankRuntime.join(loaded.settings(), registry, spec.environment());
            GenerationService.Session s;
            try {
                s = service.open(runtime, loaded);
            } catch (RuntimeException | Error e) {
                runtime.abort();
                throw e;
            }
            this.session = s;
        }

        private LayeredConfig layers(Map<String, Object> request) {
            Map<String, Object> flags = new LinkedHashMap<>(settings);
            flags.putAll(request);
            return ConfigLoader.layers(spec.configFile().orElse(null), flags, Map.of(), spec.environment(),
                    System.getProperties(), registry.classLoaders());
        }

        @Override
        public int rank() {
            return runtime.rank();
        }

        @Override
        public int worldSize() {
            return runtime.worldSize();
        }

        @Override
        public String model() {
            return loaded.model().source() + " (" + loaded.model().family() + ")";
        }

        @Override
        public VideoResult generate(VideoRequest request, ProgressListener listener) {
            GenerationPlan plan = service.checkedPlan(layers(request.settings()));
            if (!plan.model().source().equals(loaded.model().source()) || plan.model().provider() != loaded.model().provider()) {
                throw new DiffuseException("this engine serves " + model() + "; a request cannot load another model ("
                        + plan.model().source() + "); build another engine");
            }
            EngineSettings want = plan.settings();
            EngineSettings have = loaded.settings();
            if (want.parallel().nproc() != have.parallel().nproc() || !want.device().equals(have.device())
                    || want.dtype() != have.dtype()) {
                throw new DiffuseException("a request cannot change the number of ranks, the device or the dtype of a built"
                        + " engine (" + have.parallel().nproc() + " ranks, " + have.device() + ", " + have.dtype().label()
                        + "); build another engine");
            }
            List<Path> written = new ArrayList<>();
            VideoSize[] decoded = new VideoSize[1];
            GenerationResult result;
            try {
                // The request's own plan (strategy, degrees, VAE executor) over this world's cached groups.
                result = session.generateKept(plan, listener, line -> { }, size -> decoded[0] = size);
            } catch (RuntimeException | Error e) {
                if (worldSize() > 1) {
                    runtime.abort(); // the other ranks fail fast instead of waiting in a collective
                }
                throw e;
            }
            if (rank() == 0) {
                plan.generate().outputs().tensors().ifPresent(written::add);
                plan.generate().outputs().pngFrames().ifPresent(written::add);
                plan.generate().outputs().mp4().ifPresent(written::add);
            }
            Map<String, Duration> times = result.stageTimes();
            VideoSize size = decoded[0] == null ? new VideoSize(0, 0, 0) : decoded[0];
            return new VideoResult(result.latents(), result.video(), List.copyOf(written), times, size.width(), size.height(),
                    size.frames());
        }

        @Override
        public void close() {
            try {
                session.close();
            } finally {
                runtime.close();
            }
        }
    }
}
