package io.diffuse.core.cli;

import io.diffuse.core.engine.Engine;
import io.diffuse.core.registry.BundleProblems;
import io.diffuse.core.registry.PluginRegistry;
import java.util.Arrays;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.PrototypeServiceFactory;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import picocli.CommandLine;

/**
 * Publishes the CLI to the OSGi launcher: a {@link CommandLine} service with property
 * {@code diffuse.cli=root}, built by {@link Cli#create} over the Declarative Services registry and
 * the engine's managed configuration. picocli's package is exported by the system bundle, so the
 * launcher and this bundle share the {@code CommandLine} class.
 *
 * <p>The service is a prototype: every {@code ServiceObjects.getService()} builds a fresh command
 * tree, so one invocation's parsed options never leak into the next.
 *
 * <p>Framework properties the launcher sets and this component reads: {@value #RANK_COMMAND}
 * (how to start another JVM of this host, one argument per line), {@value #HOME} and
 * {@code felix.fileinstall.dir} (shown by {@code diffuse info}).
 */
@Component(immediate = true)
public final class CommandLineService {
    /** Service property that marks the CLI; the launcher looks for {@code (diffuse.cli=root)}. */
    public static final String CLI_PROPERTY = "diffuse.cli";
    /** Framework property: the java command line prefix of a rank process, one argument per line. */
    public static final String RANK_COMMAND = "io.diffuse.rank.command";
    /** Framework property: the installation folder. */
    public static final String HOME = "io.diffuse.home";

    @Reference
    private PluginRegistry registry;

    @Reference
    private Engine engine;

    private ServiceRegistration<CommandLine> registration;

    @Activate
    void activate(BundleContext context) {
        String deploy = context.getProperty("felix.fileinstall.dir");
        CliEnvironment env = new CliEnvironment(registry, hostFacts(context), rankCommand(context),
                engine::managedConfiguration,
                () -> BundleProblems.of(context, deploy == null ? null : java.nio.file.Path.of(deploy)));
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(CLI_PROPERTY, "root");
        registration = context.registerService(CommandLine.class, new PrototypeServiceFactory<CommandLine>() {
            @Override
            public CommandLine getService(Bundle bundle, ServiceRegistration<CommandLine> reg) {
                return Cli.create(env);
            }

            @Override
            public void ungetService(Bundle bundle, ServiceRegistration<CommandLine> reg, CommandLine service) {
                // Nothing to release: a command tree holds no resources of its own.
            }
        }, properties);
    }

    @Deactivate
    void deactivate() {
        registration.unregister();
    }

    private static Map<String, String> hostFacts(BundleContext context) {
        Map<String, String> facts = new LinkedHashMap<>();
        Bundle system = context.getBundle(org.osgi.framework.Constants.SYSTEM_BUNDLE_LOCATION);
        facts.put("framework", system.getSymbolicName() + " " + system.getVersion() + " (OSGi, Declarative Services)");
        String home = context.getProperty(HOME);
        if (home != null) {
            facts.put("home", home);
        }
        String start = context.getProperty("io.diffuse.jvm.start");
        if (start != null) {
            facts.put("jvm start", start);
        }
        String deploy = context.getProperty("felix.fileinstall.dir");
        if (deploy != null) {
            facts.put("deploy", deploy + " (hot-deployed bundles and .cfg files)");
        }
        return facts;
    }

    private static Optional<CliEnvironment.ProcessCommand> rankCommand(BundleContext context) {
        String command = context.getProperty(RANK_COMMAND);
        if (command == null || command.isBlank()) {
            return Optional.empty();
        }
        List<String> prefix = Arrays.stream(command.split("\n")).filter(s -> !s.isEmpty()).toList();
        return Optional.of(new CliEnvironment.ProcessCommand(prefix));
    }
}
