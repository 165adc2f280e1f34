package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.core.registry.ServiceLoaderRegistry;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine;

/**
 * Builds the command line for a host. The OSGi launcher registers the result as a service; the
 * plain class-path host ({@link #main}) runs it directly with a ServiceLoader registry.
 */
public final class Cli {
    private Cli() {
    }

    /** The full command tree, with user errors printed as one line and exit code 1. */
    public static CommandLine create(CliEnvironment env) {
        CommandLine cl = new CommandLine(new DiffuseCommand(), new Factory(env));
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            Throwable t = ex;
            while (!(t instanceof DiffuseException) && t.getCause() != null && t.getCause() != t) {
                t = t.getCause();
            }
            if (t instanceof DiffuseException de) {
                line.getErr().println("error: " + de.getMessage());
                line.getErr().flush();
                return 1;
            }
            throw ex;
        });
        return cl;
    }

    /** Class-path host: plugins found through META-INF/services. */
    public static void main(String[] args) {
        CliEnvironment env = new CliEnvironment(new ServiceLoaderRegistry(), Map.of("host", "class path (no OSGi)"),
                Optional.of(new CliEnvironment.ProcessCommand(List.of(
                        ProcessHandle.current().info().command().orElse("java"),
                        "-cp", System.getProperty("java.class.path"), Cli.class.getName()))));
        System.exit(create(env).execute(args));
    }

    /** Gives commands that take a {@link CliEnvironment} their environment. */
    private record Factory(CliEnvironment env) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> type) throws Exception {
            try {
                return type.getConstructor(CliEnvironment.class).newInstance(env);
            } catch (NoSuchMethodException e) {
                return CommandLine.defaultFactory().create(type);
            }
        }
    }
}
