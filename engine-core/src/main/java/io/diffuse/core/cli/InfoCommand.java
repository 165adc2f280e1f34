package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.generate.GenerationPlan;
import io.diffuse.core.generate.GenerationService;
import io.diffuse.core.serve.ManagedLayer;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import io.diffuse.core.registry.PluginRegistry;
import io.diffuse.core.registry.PluginRegistry.Installed;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code diffuse info}: versions, devices, and what is installed, with the bundle each came from. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show versions, devices and the installed model providers, strategies and VAE executors.")
public final class InfoCommand implements Callable<Integer> {
    private final CliEnvironment env;

    @Spec
    CommandSpec spec;

    @Mixin
    EngineOptions options = new EngineOptions();

    @Option(names = "--config-dump", description = "Print the effective configuration (with where each value came from) and exit.")
    boolean configDump;

    public InfoCommand(CliEnvironment env) {
        this.env = env;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PluginRegistry registry = env.registry();
        LayeredConfig layers = options.layers(env);
        Config config = layers.effective();
        if (configDump) {
            out.println(config.getConfig("diffuse").root().render(
                    ConfigRenderOptions.defaults().setOriginComments(true).setComments(true).setJson(false)));
            out.flush();
            return 0;
        }
        // A managed layer (deploy/*.cfg, ConfigAdmin) whose plan cannot run while the layers below can is
        // shown, and the rest is shown without it, as a server plans without it.
        java.util.Map<String, ?> managed = env.managedConfiguration().get();
        java.util.Map<String, Object> managedKeys = ConfigLoader.managedKeys(managed);
        String managedError = null;
        if (!managedKeys.isEmpty()) {
            String withIt = planError(registry, layers);
            if (withIt != null) {
                LayeredConfig below = ConfigLoader.layers(options.configFile(), options.flags(), java.util.Map.of(),
                        registry.classLoaders());
                if (planError(registry, below) == null) {
                    managedError = withIt;
                    layers = below;
                    config = below.effective();
                }
            }
        }
        // Validate too, so `info` doubles as a configuration check: the default model's plan (its rank count
        // and layout under the user's keys, as generate and serve read them), else the settings alone.
        GenerationPlan modelPlan;
        String notRunnable = null;
        try {
            modelPlan = new GenerationService(registry, new DiffusersCheckpointLoader()).plan(layers);
        } catch (DiffuseException e) {
            modelPlan = null;
            notRunnable = e.getMessage();
        }
        EngineSettings settings = modelPlan != null ? modelPlan.settings() : EngineSettings.from(config);
        io.diffuse.core.config.PluginConfigurationCheck.run(registry, settings);
        out.println("Diffuse " + Versions.diffuse());
        out.println("  java       " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        out.println("  libtorch   " + Versions.pytorchPresets());
        env.hostFacts().forEach((k, v) -> out.printf("  %-10s %s%n", k, v));
        out.println("Devices");
        out.println("  cpu        " + Runtime.getRuntime().availableProcessors() + " cores, libtorch threads "
                + torch.get_num_threads());
        boolean cuda = torch.cuda_is_available();
        out.println("  cuda       " + (cuda ? torch.cuda_device_count() + " device(s)" : "not available"));
        out.println("Configured");
        out.println("  device " + settings.device() + ", dtype " + settings.dtype().label() + ", " + settings.parallel().plan()
                + ", strategy " + settings.parallel().strategy() + ", vae executor " + settings.vae().executor());
        if (!managedKeys.isEmpty()) {
            out.println("  managed    " + ConfigLoader.managedSource(managed) + ": " + ManagedLayer.render(managedKeys)
                    + (managedError == null ? "" : ": its plan cannot run (" + managedError + "); shown here without it"));
        }
        if (modelPlan != null) {
            EngineSettings g = modelPlan.settings();
            out.println("  generate   " + modelPlan.model().source() + " (" + modelPlan.model().family() + "): "
                    + g.parallel().plan() + ", strategy " + g.parallel().strategy() + ", vae executor " + g.vae().executor()
                    + ", " + modelPlan.generate().numInferenceSteps() + " steps");
        } else {
            out.println("  generate   not runnable as configured: " + notRunnable);
        }
        section(out, "Model providers", registry.models());
        section(out, "Parallel strategies", registry.strategies());
        section(out, "VAE executors", registry.vaeExecutors());
        section(out, "Step cache policies", registry.cachePolicies());
        List<String> problems = env.registrationProblems().get();
        if (!problems.isEmpty()) {
            out.println("Plugins that provide nothing");
            problems.forEach(p -> out.println("  " + p));
        }
        out.flush();
        return 0;
    }

    /** Why {@code layers} give no runnable plan of the default model, or null. */
    private static String planError(PluginRegistry registry, LayeredConfig layers) {
        try {
            new GenerationService(registry, new DiffusersCheckpointLoader()).checkedPlan(
                    layers.withDefault("diffuse.generate.output", java.nio.file.Path.of(System.getProperty("java.io.tmpdir"),
                            "diffuse-info-check.mp4").toString(), "diffuse info"));
            return null;
        } catch (DiffuseException | com.typesafe.config.ConfigException e) {
            return e.getMessage();
        }
    }

    private static void section(PrintWriter out, String title, List<? extends Installed<?>> items) {
        out.println(title);
        if (items.isEmpty()) {
            out.println("  (none installed)");
        }
        for (Installed<?> i : items) {
            out.printf("  %-18s %-40s [%s]%n", i.name(), i.description(), i.origin());
        }
    }
}
