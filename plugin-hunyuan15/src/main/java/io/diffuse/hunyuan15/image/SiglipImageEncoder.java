package io.diffuse.hunyuan15.image;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.checkpoint.CheckpointLoader;
import io.diffuse.api.runtime.DType;
import io.diffuse.hunyuan15.text.EncoderWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * HunyuanVideo 1.5's I2V image conditioning: SiglipImageProcessor preprocessing, then SigLIP's
 * last_hidden_state as image_embeds (1, N, D) (729 x 1152 for the release). The vision tower is the
 * native {@link SiglipVisionModel} or a TorchScript module whose forward(pixel_values) returns
 * last_hidden_state.
 */
public final class SiglipImageEncoder implements AutoCloseable {
    private final SiglipImageProcessor processor;
    private final SiglipVisionModel model;
    private final JitModule module;
    private final ScalarType dtype;
    private final Device device;

    /** Native tower with its processor; takes ownership of the model. */
    public SiglipImageEncoder(SiglipImageProcessor processor, SiglipVisionModel model, DType dtype, Device device) {
        this(processor, model, null, dtype, device);
    }

    private SiglipImageEncoder(SiglipImageProcessor processor, SiglipVisionModel model, JitModule module, DType dtype, Device device) {
        this.processor = processor;
        this.model = model;
        this.module = module;
        this.dtype = dtype.scalarType();
        this.device = device;
    }

    /**
     * Loads image_encoder/ (and feature_extractor/preprocessor_config.json when present; otherwise
     * SigLIP's defaults at the model's image_size) from pipeline root {@code root}. With a TorchScript
     * path, the module replaces the tower and the size comes from the preprocessor config (required).
     */
    public static SiglipImageEncoder load(Path root, CheckpointLoader checkpoints, Path torchScript, DType dtype, Device device) {
        Path pre = root.resolve("feature_extractor").resolve("preprocessor_config.json");
        if (torchScript != null) {
            if (!Files.isRegularFile(pre)) {
                throw new DiffuseException("a TorchScript image encoder needs " + pre + " for the input size");
            }
            if (!Files.isRegularFile(torchScript)) {
                throw new DiffuseException("TorchScript image encoder " + torchScript + " does not exist");
            }
            JitModule m = torch.load(torchScript.toString(), new DeviceOptional(device), false);
            m.eval();
            m.to(device, dtype.scalarType());
            return new SiglipImageEncoder(processorFrom(pre, 0), null, m, dtype, device);
        }
        SiglipVisionModel model;
        try (Checkpoint c = checkpoints.open(root, "image_encoder")) {
            model = SiglipVisionModel.load(c, dtype, device);
        }
        SiglipImageProcessor p = Files.isRegularFile(pre) ? processorFrom(pre, model.config().imageSize())
                : SiglipImageProcessor.siglip(model.config().imageSize());
        return new SiglipImageEncoder(p, model, dtype, device);
    }

    /**
     * A tiny random SigLIP made in code (deterministic, {@link io.diffuse.hunyuan15.text.TinyEncoders#SEED}):
     * width {@code hiddenSize} (even), 2 layers, 2 heads, 28 px images in 7 px patches, so 16 tokens.
     */
    public static SiglipImageEncoder tinyRandom(int hiddenSize, DType dtype, Device device) {
        SiglipVisionConfig c = new SiglipVisionConfig(hiddenSize, 2 * hiddenSize, 2, 2, 3, 28, 7, 1e-6, "gelu_pytorch_tanh", false);
        try (PointerScope scope = new PointerScope()) {
            java.util.Map<String, Tensor> params = io.diffuse.hunyuan15.text.TinyEncoders.randomParams(
                    SiglipVisionModel.expectedShapes(c), io.diffuse.hunyuan15.text.TinyEncoders.SEED + 2);
            return new SiglipImageEncoder(SiglipImageProcessor.siglip(c.imageSize()), SiglipVisionModel.of(c, params, dtype, device),
                    dtype, device);
        }
    }

    /** The preprocessing. */
    public SiglipImageProcessor processor() {
        return processor;
    }

    /** image_embeds (1, N, D) of an RGB uint8 image (H, W, 3); attached to the caller's scope or retained. */
    public Tensor encode(Tensor imageHwc) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor out = encodePixels(processor.preprocess(imageHwc));
            if (outer != null) {
                outer.attach(out);
            } else {
                out.retainReference();
            }
            return out;
        }
    }

    /** last_hidden_state of preprocessed pixel_values (B, 3, S, S), in the current scope. */
    public Tensor encodePixels(Tensor pixelValues) {
        if (model != null) {
            return model.forward(pixelValues.to(device, dtype));
        }
        IValue out = module.forward(new IValueVector(new IValue(pixelValues.to(device, dtype))));
        return (out.isTuple() ? out.toTuple().elements().get(0).toTensor() : out.toTensor()).to(dtype);
    }

    private static SiglipImageProcessor processorFrom(Path file, int defaultSize) {
        String json;
        try {
            json = Files.readString(file);
        } catch (IOException e) {
            throw new DiffuseException("cannot read " + file + ": " + e.getMessage(), e);
        }
        int h = intField(json, "height", defaultSize);
        int w = intField(json, "width", defaultSize);
        if (h <= 0 || w <= 0) {
            throw new DiffuseException(file + " has no size {height, width}");
        }
        double rescale = numField(json, "rescale_factor", 1 / 255.0);
        return new SiglipImageProcessor(h, w, rescale, triple(json, "image_mean"), triple(json, "image_std"));
    }

    private static int intField(String json, String key, int dflt) {
        return (int) numField(json, key, dflt);
    }

    private static double numField(String json, String key, double dflt) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*([-0-9.eE+]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : dflt;
    }

    private static double[] triple(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(json);
        if (!m.find()) {
            return new double[] {0.5, 0.5, 0.5};
        }
        String[] parts = m.group(1).split(",");
        double[] v = new double[3];
        for (int i = 0; i < 3; i++) {
            v[i] = Double.parseDouble(parts[Math.min(i, parts.length - 1)].trim());
        }
        return v;
    }

    @Override
    public void close() {
        if (model != null) {
            model.close();
        }
        if (module != null) {
            module.close();
        }
    }
}
