package io.diffuse.core.cli;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.model.ComponentRunner;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.parallel.ParallelPlan;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.core.config.ConfigException;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.checkpoint.DiffusersCheckpointLoader;
import io.diffuse.core.dist.EngineRuntime;
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

    /**
     * {@code --nproc N} alone runs one ring over all ranks: Ring takes any group size and head
     * count, and VAE components ignore the sequence layout anyway.
     */
    @Override
    protected com.typesafe.config.Config adjust(com.typesafe.config.Config config) {
        return allRanksInOneGroup(config, "diffuse.parallel.ring", "run-component default: one ring over all ranks");
    }

    @Override
    public Integer call() {
        // Checked before any rank is spawned, so a typo costs no rank start-up.
        selection.check(env.registry());
        Path parent = output.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new DiffuseException("--output " + output + ": directory " + parent + " does not exist");
        }
        return super.call();
    }

    /**
     * The configured strategy is installed (else {@link io.diffuse.api.NotInstalledException} naming
     * the installed ones), and the strategy can split the model's attention heads under the
     * configured plan (e.g. the Ulysses degree divides the head count) — before any rank starts.
     */
    @Override
    protected void checkBeforeRanks(EngineSettings settings) {
        PluginRegistry registry = env.registry();
        String name = settings.parallel().strategy();
        ParallelStrategy strategy = registry.strategy(name);
        OptionalInt heads = selection.provider(registry).attentionHeads(selection.model, new DiffusersCheckpointLoader());
        if (heads.isEmpty()) {
            return;
        }
        ParallelPlan plan = settings.parallel().plan();
        try {
            strategy.validate(plan, heads.getAsInt());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("diffuse.parallel", "strategy " + name + ", ulysses " + plan.ulysses() + " x ring "
                    + plan.ring() + " x cfg " + plan.cfg(), "cannot run the " + heads.getAsInt() + "-head model in " + selection.model
                    + ": " + e.getMessage());
        }
    }

    @Override
    protected int runOnRank(EngineRuntime runtime) {
        CheckpointLoader checkpoints = new DiffusersCheckpointLoader();
        ModelProvider provider = selection.provider(env.registry());
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
            long start = System.nanoTime();
            Map<String, Tensor> result = runner.run(given);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (runtime.rank() == 0) {
                checkpoints.writeTensors(output, result);
                for (Map.Entry<String, Tensor> e : result.entrySet()) {
                    out.printf("%s %s -> %s%n", e.getKey(), Arrays.toString(e.getValue().sizes().vec().get()), output);
                }
                out.printf("%s ran in %.3f s on %d rank(s)%n", selection.component, seconds, runtime.worldSize());
                out.flush();
            }
            return 0;
        }
    }
}
