package io.diffuse.core.engine;

import com.typesafe.config.Config;
import io.diffuse.api.DiffuseException;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.vae.VaeExecutor;
import io.diffuse.core.config.ConfigLoader;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.registry.PluginRegistry;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running engine's configured selection: which parallel strategy and VAE executor the effective
 * configuration names, resolved from the {@link PluginRegistry} each time work asks for them, so a
 * bundle installed, updated or removed at runtime is seen at once, and a strategy whose bundle is
 * gone fails that work with {@link io.diffuse.api.NotInstalledException} naming it.
 *
 * <p>Inside OSGi this is a Declarative Services component configured by the ConfigAdmin PID
 * {@value #PID}: its properties are configuration keys ({@code diffuse.parallel.strategy = ring}),
 * layered above the user's file and the references and below environment, system properties and
 * CLI flags (see {@link ConfigLoader}). A ConfigAdmin update, or a {@code io.diffuse.engine.cfg}
 * file dropped into {@code deploy/}, reaches {@link #modified} and takes effect for the next piece
 * of work, without a restart. Outside OSGi, construct it with {@link #Engine(PluginRegistry, Map)}.
 */
@Component(service = Engine.class, configurationPid = Engine.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL,
        immediate = true)
public final class Engine {
    /** The ConfigAdmin PID whose properties are engine configuration keys. */
    public static final String PID = "io.diffuse.engine";

    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

    @Reference
    private PluginRegistry registry;

    /** The current selection: settings, or the configuration error that makes the engine unusable. */
    private volatile Selection selection;

    private record Selection(Map<String, Object> managed, EngineSettings settings, DiffuseException error) {
    }

    /** For Declarative Services. */
    public Engine() {
    }

    /** Without OSGi: {@code managed} plays the part of the ConfigAdmin properties. */
    public Engine(PluginRegistry registry, Map<String, ?> managed) {
        this.registry = registry;
        select(managed);
    }

    @Activate
    void activate(Map<String, Object> properties) {
        select(properties);
    }

    @Modified
    void modified(Map<String, Object> properties) {
        select(properties);
    }

    private void select(Map<String, ?> properties) {
        Map<String, Object> managed = new TreeMap<>();
        properties.forEach((k, v) -> {
            if (k.startsWith("diffuse.")) {
                managed.put(k, v);
            }
        });
        Object file = properties.get(ConfigLoader.MANAGED_SOURCE);
        Map<String, Object> withSource = new TreeMap<>(managed);
        if (file != null && !managed.isEmpty()) {
            withSource.put(ConfigLoader.MANAGED_SOURCE, String.valueOf(file)); // so messages can name the .cfg file
        }
        Selection next;
        try {
            next = new Selection(Map.copyOf(withSource), EngineSettings.from(effective(managed)), null);
            LOG.info("engine configuration: strategy {}, vae executor {} (managed keys {})",
                    next.settings().parallel().strategy(), next.settings().vae().executor(), managed.keySet());
        } catch (DiffuseException e) {
            next = new Selection(Map.copyOf(withSource), null, e);
            // Every command builds its configuration with this layer and reports the error itself, in one
            // line; logged here only for a host that uses the component without a command.
            LOG.info("engine configuration rejected, work will fail until it is fixed: {}", e.getMessage());
        }
        selection = next;
    }

    private Config effective(Map<String, ?> managed) {
        return ConfigLoader.load(null, Map.of(), managed, registry.classLoaders());
    }

    /**
     * The managed configuration layer (ConfigAdmin properties with {@code diffuse.} keys, and
     * {@value ConfigLoader#MANAGED_SOURCE} naming the {@code .cfg} file they came from), for commands
     * that build their own effective configuration with CLI flags on top.
     */
    public Map<String, Object> managedConfiguration() {
        return selection.managed();
    }

    /** The validated settings of the current configuration (no CLI flags). */
    public EngineSettings settings() {
        Selection s = selection;
        if (s.error() != null) {
            throw s.error();
        }
        return s.settings();
    }

    /** Name of the configured strategy ("auto" already resolved). */
    public String strategyName() {
        return settings().parallel().strategy();
    }

    /** Name of the configured VAE executor ("auto" already resolved). */
    public String vaeExecutorName() {
        return settings().vae().executor();
    }

    /**
     * The configured parallel strategy as installed now.
     *
     * @throws io.diffuse.api.NotInstalledException naming the strategy when no installed bundle provides it
     */
    public ParallelStrategy strategy() {
        return registry.strategy(strategyName());
    }

    /**
     * The configured VAE executor as installed now.
     *
     * @throws io.diffuse.api.NotInstalledException naming the executor when no installed bundle provides it
     */
    public VaeExecutor vaeExecutor() {
        return registry.vaeExecutor(vaeExecutorName());
    }

    /** Names of the installed strategies, for messages. */
    public List<String> installedStrategies() {
        return registry.strategies().stream().map(PluginRegistry.Installed::name).toList();
    }
}
