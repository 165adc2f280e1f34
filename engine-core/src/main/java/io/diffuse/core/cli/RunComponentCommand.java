package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.core.config.ConfigException;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.distributed.RankRuntime;
import io.diffuse.core.distributed.GroupTraffic;
import io.diffuse.core.registry.PluginRegistry;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code diffuse run-component COMPONENT --model DIR --inputs IN --output OUT}: runs one model
 * component on named tensors, as a debugging tool that compares directly with the reference
 * implementation (inputs named as its forward arguments). Every rank runs the component; rank 0
 * writes the output atomically, so a failed run leaves no file behind.
 */
@Command(name = "run-component", mixinStandardHelpOptions = true,
        description = {"Run one model component (transformer, vae-encode, vae-decode) on tensors from a safetensors file.",
            "Parallel flags (--nproc, --ulysses, --ring, --vae-parallel, --tiling ...) apply as in generate."})
public final class RunComponentCommand extends RankedCommand {
    @Mixin
    ComponentOptions selection = new ComponentOptions();

    @Option(names = "--output", required = true, paramLabel = "OUT", description = "safetensors file to write the outputs to.")
    Path output;

    public RunComponentCommand(CliEnvironment env) {
        super(env);
    }

    @Override
    protected EngineSettings prepare(LayeredConfig layers) {
        EngineSettings settings = selection.prepare(layers, env.registry());
        Path parent = output.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new DiffuseException("--output " + output + ": directory " + parent + " does not exist");
        }
        return settings;
    }

    @Override
    protected int runOnRank(RankRuntime runtime) {
        CheckpointLoader checkpoints = new DiffusersCheckpointLoader();
        ModelProvider provider = selection.provider();
        PrintWriter out = spec.commandLine().getOut();
        try (PointerScope scope = new PointerScope();
                ComponentRunner runner = provider.component(selection.component, selection.model, runtime.context(checkpoints))) {
            Map<String, Tensor> in = checkpoints.readTensors(selection.inputs);
            List<String> missing = runner.requiredInputs().stream().filter(n -> !in.containsKey(n)).sorted().toList();
            if (!missing.isEmpty()) {
                throw new DiffuseException("--inputs " + selection.inputs + " lacks " + missing + " required by " + selection.component
                        + "; it has " + new TreeSet<>(in.keySet()));
            }
            // Other tensors in the file (e.g. the reference output next to the inputs) are not the component's.
            Map<String, Tensor> given = new java.util.TreeMap<>(in);
            given.keySet().retainAll(runner.requiredInputs());
            GroupTraffic before = GroupTraffic.of(runtime.groups());
            long start = System.nanoTime();
            Map<String, Tensor> result = runner.run(given);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (runtime.rank() == 0) {
                checkpoints.writeTensors(output, result);
                for (Map.Entry<String, Tensor> e : result.entrySet()) {
                    out.printf("%s %s -> %s%n", e.getKey(), Arrays.toString(e.getValue().sizes().vec().get()), output);
                }
                out.printf("%s ran in %.3f s on %d rank(s)%n", selection.component, seconds, runtime.worldSize());
                out.println(RunReport.plan(runtime.settings(), GroupTraffic.of(runtime.groups()).minus(before)));
                out.flush();
            }
            return 0;
        }
    }
}
