package io.diffuse.hunyuan15.text;

import io.diffuse.api.DiffuseException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * An encoder exported by the user with TorchScript ({@code torch.jit.script} or {@code trace}, then
 * {@code .save(path)}). Its {@code forward(input_ids, attention_mask)} takes (B, L) int64 tensors and
 * returns the states the pipeline wants, (B, L, D): for the Qwen slot hidden_states[-3] (uncropped;
 * the crop is done here as for the native encoder), for the ByT5 slot last_hidden_state. A tuple
 * result uses its first element. D is learned by one probe call at load.
 */
public final class TorchScriptEncoder implements TokenEncoder {
    private final JitModule module;
    private final Device device;
    private final ScalarType dtype;
    private final Path path;
    private final long hiddenSize;

    private TorchScriptEncoder(JitModule module, Device device, ScalarType dtype, Path path) {
        this.module = module;
        this.device = device;
        this.dtype = dtype;
        this.path = path;
        try (PointerScope scope = new PointerScope()) {
            Tensor probe = encode(torch.ones(new long[] {1, 1}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Long)),
                    torch.ones(new long[] {1, 1}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Long)));
            if (probe.dim() != 3) {
                throw new DiffuseException("TorchScript encoder " + path + " returned a " + probe.dim()
                        + "-d tensor; forward(input_ids, attention_mask) must return (B, L, D)");
            }
            this.hiddenSize = probe.size(2);
        }
    }

    /** Loads {@code path} onto {@code device}, cast to {@code dtype}, in eval mode. */
    public static TorchScriptEncoder load(Path path, Device device, ScalarType dtype) {
        if (!Files.isRegularFile(path)) {
            throw new DiffuseException("TorchScript encoder " + path + " does not exist; set the *.torchscript key to a file"
                    + " written by torch.jit.save, or leave it empty for the native encoder");
        }
        JitModule m;
        try {
            m = torch.load(path.toString(), new DeviceOptional(device), false);
        } catch (RuntimeException e) {
            throw new DiffuseException("cannot load TorchScript encoder " + path + ": " + e.getMessage(), e);
        }
        m.eval();
        m.to(device, dtype);
        return new TorchScriptEncoder(m, device, dtype, path);
    }

    @Override
    public Tensor encode(Tensor inputIds, Tensor attentionMask) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            IValueVector args = new IValueVector(new IValue(inputIds.to(device, ScalarType.Long)),
                    new IValue(attentionMask.to(device, ScalarType.Long)));
            IValue out;
            try {
                out = module.forward(args);
            } catch (RuntimeException e) {
                throw new DiffuseException("TorchScript encoder " + path + " failed on forward(input_ids, attention_mask): "
                        + e.getMessage(), e);
            }
            Tensor t;
            if (out.isTensor()) {
                t = out.toTensor();
            } else if (out.isTuple()) {
                t = out.toTuple().elements().get(0).toTensor();
            } else {
                throw new DiffuseException("TorchScript encoder " + path + " returned neither a tensor nor a tuple");
            }
            t = t.to(dtype).contiguous();
            if (outer != null) {
                outer.attach(t);
            } else {
                t.retainReference();
            }
            return t;
        }
    }

    @Override
    public long hiddenSize() {
        return hiddenSize;
    }

    @Override
    public void close() {
        module.close();
    }
}
