package io.diffuse.hunyuan15.pipeline;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * diffusers' {@code FlowMatchEulerDiscreteScheduler} as the HunyuanVideo 1.5 pipelines drive it:
 * {@code set_timesteps(sigmas = linspace(1, 0, N + 1)[:-1])}, a static shift
 * {@code sigma <- shift * sigma / (1 + (shift - 1) * sigma)} computed in float32 as NumPy does,
 * {@code timesteps = 1000 * sigma}, a final sigma of 0, and the Euler step
 * {@code x + (sigma_next - sigma) * v} in float32, cast back to the prediction's dtype.
 */
public final class FlowMatchEulerDiscreteScheduler {
    /** scheduler_config.json options this port does not implement; a checkpoint setting any of them is refused. */
    private static final List<String> UNSUPPORTED = List.of("use_dynamic_shifting", "use_karras_sigmas",
            "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas", "stochastic_sampling");

    private final double shift;
    private final int numTrainTimesteps;
    private float[] sigmas = new float[0];
    private float[] timesteps = new float[0];

    /** A scheduler with the given shift and {@code num_train_timesteps}. */
    public FlowMatchEulerDiscreteScheduler(double shift, int numTrainTimesteps) {
        if (!(shift > 0)) {
            throw new DiffuseException("flow shift must be positive, got " + shift);
        }
        this.shift = shift;
        this.numTrainTimesteps = numTrainTimesteps;
    }

    /**
     * Reads {@code scheduler_config.json} (diffusers layout): {@code shift} (default 1.0) and
     * {@code num_train_timesteps} (default 1000); options that change the sigmas and that this port
     * does not implement are refused by name.
     */
    public static FlowMatchEulerDiscreteScheduler fromConfig(Path file) {
        String json;
        try {
            json = Files.readString(file);
        } catch (IOException e) {
            throw new DiffuseException("cannot read the scheduler config " + file + ": " + e.getMessage(), e);
        }
        for (String option : UNSUPPORTED) {
            if (Pattern.compile("\"" + option + "\"\\s*:\\s*true").matcher(json).find()) {
                throw new DiffuseException(file + " sets " + option + "=true, which the HunyuanVideo 1.5 pipeline does not use "
                        + "and this engine does not implement; set it to false");
            }
        }
        Matcher terminal = Pattern.compile("\"shift_terminal\"\\s*:\\s*([0-9.eE+-]+)").matcher(json);
        if (terminal.find()) {
            throw new DiffuseException(file + " sets shift_terminal, which this engine does not implement; set it to null");
        }
        return new FlowMatchEulerDiscreteScheduler(number(json, "shift", 1.0), (int) number(json, "num_train_timesteps", 1000));
    }

    private static double number(String json, String key, double fallback) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*([0-9.eE+-]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : fallback;
    }

    /** The configured shift. */
    public double shift() {
        return shift;
    }

    /** A copy with another shift (e.g. {@code --flow-shift}). */
    public FlowMatchEulerDiscreteScheduler withShift(double newShift) {
        return new FlowMatchEulerDiscreteScheduler(newShift, numTrainTimesteps);
    }

    /** Prepares {@code steps} steps from the HunyuanVideo pipelines' sigmas {@code linspace(1, 0, steps + 1)[:-1]}. */
    public void setTimesteps(int steps) {
        if (steps < 1) {
            throw new DiffuseException("num inference steps must be at least 1, got " + steps);
        }
        float fShift = (float) shift;
        float fShiftMinusOne = (float) (shift - 1); // Python computes shift - 1 in double, NumPy uses it as float32
        sigmas = new float[steps + 1];
        timesteps = new float[steps];
        for (int i = 0; i < steps; i++) {
            // np.linspace in float64 (start + i * step), then astype(float32).
            float s = (float) (1.0 + i * (-1.0 / steps));
            float shifted = (fShift * s) / (1f + fShiftMinusOne * s);
            sigmas[i] = shifted;
            timesteps[i] = shifted * numTrainTimesteps;
        }
        sigmas[steps] = 0f;
    }

    /** Timesteps of the prepared schedule (1000 * sigma), one per step. */
    public float[] timesteps() {
        return timesteps.clone();
    }

    /** Sigmas of the prepared schedule, one per step plus the final 0. */
    public float[] sigmas() {
        return sigmas.clone();
    }

    /**
     * The Euler step of step {@code index}: {@code sample + (sigma[index+1] - sigma[index]) * modelOutput}
     * in float32, returned in {@code modelOutput}'s dtype.
     */
    public Tensor step(Tensor modelOutput, int index, Tensor sample) {
        float dt = sigmas[index + 1] - sigmas[index];
        Tensor prev = sample.to(ScalarType.Float).add(modelOutput.to(ScalarType.Float).mul(new Scalar((double) dt)));
        return prev.to(modelOutput.scalar_type());
    }
}
