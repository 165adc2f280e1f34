package io.diffuse.core.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The root command; every subcommand has --help. */
@Command(name = "diffuse", mixinStandardHelpOptions = true, versionProvider = DiffuseCommand.Version.class,
        description = "Diffuse: a diffusion inference engine for the JVM.",
        subcommands = {InfoCommand.class, GenerateCommand.class, RunComponentCommand.class, CommCheckCommand.class,
            BenchCommand.class, ServeCommand.class})
public final class DiffuseCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code diffuse --version}. */
    static final class Version implements picocli.CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"Diffuse " + Versions.diffuse(), Versions.pytorchPresets()};
        }
    }
}
