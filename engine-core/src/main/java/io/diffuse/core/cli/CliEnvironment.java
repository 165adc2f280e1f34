package io.diffuse.core.cli;

import io.diffuse.core.registry.PluginRegistry;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What the hosting process gives the commands: the plugin registry (OSGi or ServiceLoader), and
 * facts about the host such as where the product is installed. The same commands run in both hosts.
 *
 * @param registry installed plugins
 * @param hostFacts host details for {@code diffuse info} (e.g. "framework" -> "Apache Felix 7.0.5")
 * @param rankCommand how to start one more process of this host running a subcommand: the java
 *        executable, JVM options, class path and main class (used by the local launcher for --nproc)
 * @param managedConfiguration the managed configuration layer, read when a command builds its
 *        configuration (inside OSGi the ConfigAdmin properties of {@code io.diffuse.engine}; empty
 *        on the class path); see {@link io.diffuse.core.config.ConfigLoader} for the precedence
 * @param registrationProblems installed or deployed plugins that give the engine nothing, one line each
 *        (see {@link io.diffuse.core.registry.BundleProblems})
 */
public record CliEnvironment(PluginRegistry registry, Map<String, String> hostFacts, Optional<ProcessCommand> rankCommand,
        Supplier<Map<String, ?>> managedConfiguration, Supplier<java.util.List<String>> registrationProblems) {

    /** A host without managed configuration (the class-path host, tests). */
    public CliEnvironment(PluginRegistry registry, Map<String, String> hostFacts, Optional<ProcessCommand> rankCommand) {
        this(registry, hostFacts, rankCommand, Map::of, java.util.List::of);
    }

    /** A JVM command line prefix that runs this host's main class; subcommand arguments are appended. */
    public record ProcessCommand(java.util.List<String> prefix) {
    }

}
