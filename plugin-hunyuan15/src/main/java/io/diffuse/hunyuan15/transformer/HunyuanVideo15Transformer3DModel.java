package io.diffuse.hunyuan15.transformer;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.cache.BlockStack;
import io.diffuse.api.cache.BlockStates;
import io.diffuse.api.cache.CacheStep;
import io.diffuse.api.cache.StepCache;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ReduceOp;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import io.diffuse.hunyuan15.transformer.Modules.HunyuanVideo15ByT5TextProjection;
import io.diffuse.hunyuan15.transformer.Modules.HunyuanVideo15ImageProjection;
import io.diffuse.hunyuan15.transformer.Modules.Linear;
import io.diffuse.hunyuan15.transformer.Modules.TimestepEmbedding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * HunyuanVideo 1.5's diffusion transformer, a port of diffusers' HunyuanVideo15Transformer3DModel
 * (field names follow the checkpoint keys). Padded text tokens are dropped instead of masked, which
 * gives diffusers' result without fully masked attention rows. Video tokens are sharded through the
 * {@link SequenceParallelAttention} right after patch embedding and gathered before unpatchify, so
 * any parallel strategy plugs in without a change here.
 */
public final class HunyuanVideo15Transformer3DModel implements AutoCloseable {
    private static final double EPS = 1e-6;

    /** Forward arguments, named as diffusers names them. Masks are (B, L), non-zero where a token is real. */
    public record Inputs(Tensor hiddenStates, Tensor timestep, Tensor encoderHiddenStates, Tensor encoderAttentionMask,
            Tensor encoderHiddenStates2, Tensor encoderAttentionMask2, Tensor imageEmbeds, Tensor timestepR) {
    }

    private final HunyuanVideo15TransformerConfig config;
    private final DType dtype;
    private final Device device;
    private final Weights weights;

    private final Tensor xEmbedderWeight;
    private final Tensor xEmbedderBias;
    private final HunyuanVideo15ImageProjection imageEmbedder;
    private final HunyuanVideo15TokenRefiner contextEmbedder;
    private final HunyuanVideo15ByT5TextProjection contextEmbedder2;
    /** time_embed.timestep_embedder and, for meanflow models, time_embed.timestep_embedder_r. */
    private final TimestepEmbedding timeEmbedder;
    private final TimestepEmbedding timeEmbedderR;
    private final Tensor condTypeEmbed;
    private final HunyuanVideo15RotaryPosEmbed rope;
    private final List<HunyuanVideo15TransformerBlock> transformerBlocks = new ArrayList<>();
    private final Linear normOutLinear;
    private final Linear projOut;

    private HunyuanVideo15Transformer3DModel(HunyuanVideo15TransformerConfig config, Weights w, DType dtype, Device device) {
        this.config = config;
        this.weights = w;
        this.dtype = dtype;
        this.device = device;
        xEmbedderWeight = w.get("x_embedder.proj.weight");
        xEmbedderBias = w.get("x_embedder.proj.bias");
        imageEmbedder = HunyuanVideo15ImageProjection.of(w, "image_embedder");
        contextEmbedder = new HunyuanVideo15TokenRefiner(w, "context_embedder", config);
        contextEmbedder2 = HunyuanVideo15ByT5TextProjection.of(w, "context_embedder_2");
        timeEmbedder = TimestepEmbedding.of(w, "time_embed.timestep_embedder");
        timeEmbedderR = config.useMeanflow() ? TimestepEmbedding.of(w, "time_embed.timestep_embedder_r") : null;
        condTypeEmbed = w.get("cond_type_embed.weight");
        rope = new HunyuanVideo15RotaryPosEmbed(config.ropeAxesDim(), config.ropeTheta());
        for (int i = 0; i < config.numLayers(); i++) {
            transformerBlocks.add(new HunyuanVideo15TransformerBlock(w, "transformer_blocks." + i, config.numAttentionHeads()));
        }
        normOutLinear = Linear.of(w, "norm_out.linear");
        projOut = Linear.of(w, "proj_out");
    }

    /** Builds the model from a checkpoint: config.json decides the architecture; names and shapes are checked strictly. */
    public static HunyuanVideo15Transformer3DModel load(Checkpoint checkpoint, DType dtype, Device device) {
        HunyuanVideo15TransformerConfig config = HunyuanVideo15TransformerConfig.fromMap(checkpoint.config());
        Weights w = Weights.load(checkpoint, config.expectedShapes(), dtype, device);
        return new HunyuanVideo15Transformer3DModel(config, w, dtype, device);
    }

    public HunyuanVideo15TransformerConfig config() {
        return config;
    }

    /**
     * One forward pass: (B, in_channels, T, H, W) -> (B, out_channels, T, H, W) in the run dtype. The
     * result is attached to the caller's PointerScope (or retained when there is none).
     */
    public Tensor forward(Inputs in, SequenceParallelAttention attention) {
        return forward(in, attention, null);
    }

    /**
     * A forward pass whose block stack goes through a step cache: {@code caching.cache()} decides
     * for {@code caching.step()} whether the blocks after the first run or cached residuals stand in
     * (statistics over the video tokens summed over {@code caching.sequence()}, the group the
     * attention shards over). Null runs every block.
     */
    public Tensor forward(Inputs in, SequenceParallelAttention attention, Caching caching) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            check(in);
            int batch = (int) in.hiddenStates().size(0);
            // diffusers decides T2V for the whole batch: all image_embeds zero.
            boolean t2v = DeviceOps.allZero(in.imageEmbeds());
            List<Prepared> items = new ArrayList<>();
            List<Tensor> hidden = new ArrayList<>();
            List<Tensor> encoder = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                Prepared p = prepare(in, b, t2v, attention);
                items.add(p);
                hidden.add(p.img());
                encoder.add(p.ctx());
            }
            // The whole batch passes the block stack together: a cache decides once for all items, as diffusers does.
            Blocks blocks = new Blocks(items, attention, caching == null ? null : caching.sequence());
            BlockStates states = new BlockStates(hidden, encoder);
            BlockStates out = caching == null ? blocks.run(0, blocks.size(), states)
                    : caching.cache().forward(caching.step(), states, blocks);
            Tensor[] samples = new Tensor[batch];
            for (int b = 0; b < batch; b++) {
                samples[b] = output(items.get(b), out.hidden().get(b), attention);
            }
            return Nn.escape(batch == 1 ? samples[0] : Nn.cat(0, samples), outer);
        }
    }

    /** A step cache for one forward: the generation's cache, this forward's step and branch, the sequence group. */
    public record Caching(StepCache cache, CacheStep step, ProcessGroup sequence) {
    }

    /** One batch item up to the blocks: its token streams, conditioning, RoPE rows and geometry. */
    private record Prepared(Tensor img, Tensor ctx, Tensor temb, Tensor cos, Tensor sin, SequenceLayout layout, long frames,
            long height, long width) {
    }

    /** The block stack over every batch item, as a step cache sees it. */
    private final class Blocks implements BlockStack {
        private final List<Prepared> items;
        private final SequenceParallelAttention attention;
        private final ProcessGroup sequence;

        Blocks(List<Prepared> items, SequenceParallelAttention attention, ProcessGroup sequence) {
            this.items = items;
            this.attention = attention;
            this.sequence = sequence;
        }

        @Override
        public int size() {
            return transformerBlocks.size();
        }

        @Override
        public BlockStates run(int from, int to, BlockStates states) {
            List<Tensor> hidden = new ArrayList<>();
            List<Tensor> encoder = new ArrayList<>();
            for (int b = 0; b < items.size(); b++) {
                Prepared p = items.get(b);
                Tensor imgState = new Tensor();
                imgState.put(states.hidden().get(b));
                Tensor ctxState = new Tensor();
                ctxState.put(states.encoder().get(b));
                for (HunyuanVideo15TransformerBlock block : transformerBlocks.subList(from, to)) {
                    // Each block's temporaries die with its scope; only the two streams carry over.
                    try (PointerScope blockScope = new PointerScope()) {
                        Tensor[] out = block.forward(imgState, ctxState, p.temb(), p.cos(), p.sin(), attention, p.layout());
                        imgState.put(out[0]);
                        ctxState.put(out[1]);
                    }
                }
                hidden.add(imgState);
                encoder.add(ctxState);
            }
            return new BlockStates(hidden, encoder);
        }

        @Override
        public Tensor validTokens(Tensor shardLike) {
            // Padding sits at the end of the padded sequence; the layout is the same for every item.
            long valid = items.get(0).layout().validIn(attention.index());
            return valid == shardLike.size(1) ? shardLike : shardLike.narrow(1, 0, valid);
        }

        @Override
        public double[] sumOverSequence(double[] local) {
            if (attention.degree() == 1) {
                return local.clone();
            }
            if (sequence == null || sequence.size() != attention.degree()) {
                throw new DiffuseException("a step cache needs the sequence-parallel group the attention shards over ("
                        + attention.degree() + " ranks), got " + (sequence == null ? "none" : sequence.size() + " ranks"));
            }
            Tensor t = torch.zeros(new long[] {local.length}, new TensorOptions(ScalarType.Double));
            new DoublePointer(t.data_ptr_double()).put(local);
            Tensor onDevice = t.to(device, ScalarType.Double).contiguous();
            sequence.allReduce(onDevice, ReduceOp.SUM);
            Tensor back = onDevice.to(new Device("cpu"), ScalarType.Double).contiguous();
            double[] total = new double[local.length];
            new DoublePointer(back.data_ptr_double()).get(total);
            return total;
        }
    }

    private Tensor row(Tensor t, int b) {
        return t.narrow(0, b, 1).to(device, dtype.scalarType());
    }

    /** Indices (on the run device) of the non-zero entries of mask row b. */
    private Tensor validIndex(Tensor mask, int b) {
        return DeviceOps.nonzeroIndex(mask.select(0, b).to(device, ScalarType.Long));
    }

    private Prepared prepare(Inputs in, int b, boolean t2v, SequenceParallelAttention attention) {
        int pt = config.patchSizeT();
        int p = config.patchSize();
        Tensor x = row(in.hiddenStates(), b);
        long frames = x.size(2) / pt;
        long height = x.size(3) / p;
        long width = x.size(4) / p;

        // 1. RoPE tables, fp32: (N, head_dim)
        Tensor[] cosSin = rope.forward(frames, height, width, device);

        // 2. Conditioning vector
        Tensor timestep = in.timestep().narrow(0, b, 1).to(device, ScalarType.Float);
        Tensor temb = timeEmbedder.forward(Nn.timestepProjection(timestep, HunyuanVideo15TransformerConfig.TIMESTEP_CHANNELS)
                .to(device, dtype.scalarType()));
        if (in.timestepR() != null) {
            Tensor r = in.timestepR().narrow(0, b, 1).to(device, ScalarType.Float);
            temb = temb.add(timeEmbedderR.forward(Nn.timestepProjection(r, HunyuanVideo15TransformerConfig.TIMESTEP_CHANNELS)
                    .to(device, dtype.scalarType())));
        }

        // 3. Patch embed: conv with kernel = stride = patch; (1, D, T', H', W') -> (1, N, D)
        Tensor img = DeviceOps.conv(x, xEmbedderWeight, xEmbedderBias, new long[] {pt, p, p}, new long[] {0, 0, 0})
                .flatten(2, -1).transpose(1, 2);

        // 4. Context tokens, valid ones only, ordered [image, ByT5, Qwen] like diffusers' valid prefix.
        List<Tensor> context = new ArrayList<>();
        if (!t2v) {
            Tensor image = imageEmbedder.forward(row(in.imageEmbeds(), b));
            context.add(image.add(condTypeEmbed.select(0, 2)));
        }
        Tensor byt5Index = validIndex(in.encoderAttentionMask2(), b);
        if (byt5Index.size(0) > 0) {
            Tensor byt5 = DeviceOps.indexSelect(row(in.encoderHiddenStates2(), b), 1, byt5Index);
            context.add(contextEmbedder2.forward(byt5).add(condTypeEmbed.select(0, 1)));
        }
        Tensor qwenIndex = validIndex(in.encoderAttentionMask(), b);
        if (qwenIndex.size(0) == 0) {
            throw new DiffuseException("encoder_attention_mask of batch item " + b + " marks no token as valid; the Qwen"
                    + " text stream needs at least one real token (diffusers would divide by zero pooling it)");
        }
        Tensor qwen = DeviceOps.indexSelect(row(in.encoderHiddenStates(), b), 1, qwenIndex);
        context.add(contextEmbedder.forward(qwen, timestep).add(condTypeEmbed.select(0, 0)));
        Tensor ctx = Nn.cat(1, context.toArray(new Tensor[0]));

        // 5. Shard the video tokens and their RoPE rows; the blocks run on this rank's shard.
        SequenceLayout layout = attention.layout(img.size(1));
        return new Prepared(attention.shard(img, 1), ctx, temb, attention.shard(cosSin[0], 0), attention.shard(cosSin[1], 0),
                layout, frames, height, width);
    }

    private Tensor output(Prepared p, Tensor imgState, SequenceParallelAttention attention) {
        int pt = config.patchSizeT();
        int p1 = config.patchSize();
        Tensor temb = p.temb();
        // 6. Output: AdaLayerNormContinuous chunks (scale, shift); proj_out; gather; unpatchify.
        Tensor[] scaleShift = Modules.chunk(normOutLinear.forward(Nn.silu(temb)), 2);
        Tensor y = projOut.forward(Nn.modulate(Nn.layerNorm(imgState, null, null, EPS), scaleShift[1], scaleShift[0]));
        y = attention.gather(y, 1, p.layout());
        // (1, N, C*pt*p*p) -> (1, T', H', W', C, pt, p, p) -> (1, C, T', pt, H', p, W', p) -> (1, C, T, H, W)
        long c = config.outChannels();
        return y.reshape(1, p.frames(), p.height(), p.width(), c, pt, p1, p1).permute(0, 4, 1, 5, 2, 6, 3, 7)
                .reshape(1, c, p.frames() * pt, p.height() * p1, p.width() * p1);
    }

    private void check(Inputs in) {
        require(in.hiddenStates(), "hidden_states");
        require(in.timestep(), "timestep");
        require(in.encoderHiddenStates(), "encoder_hidden_states");
        require(in.encoderAttentionMask(), "encoder_attention_mask");
        require(in.encoderHiddenStates2(), "encoder_hidden_states_2");
        require(in.encoderAttentionMask2(), "encoder_attention_mask_2");
        require(in.imageEmbeds(), "image_embeds");
        Tensor x = in.hiddenStates();
        long batch = x.size(0);
        shape(x, "hidden_states", 5, 1, config.inChannels());
        if (x.size(2) % config.patchSizeT() != 0 || x.size(3) % config.patchSize() != 0 || x.size(4) % config.patchSize() != 0) {
            throw new DiffuseException("hidden_states " + Arrays.toString(x.sizes().vec().get()) + ": T, H, W must be multiples of the patch size "
                    + config.patchSizeT() + "x" + config.patchSize() + "x" + config.patchSize());
        }
        shape(in.encoderHiddenStates(), "encoder_hidden_states", 3, 2, config.textEmbedDim());
        shape(in.encoderHiddenStates2(), "encoder_hidden_states_2", 3, 2, config.textEmbed2Dim());
        shape(in.imageEmbeds(), "image_embeds", 3, 2, config.imageEmbedDim());
        mask(in.encoderAttentionMask(), "encoder_attention_mask", in.encoderHiddenStates(), batch);
        mask(in.encoderAttentionMask2(), "encoder_attention_mask_2", in.encoderHiddenStates2(), batch);
        for (Tensor t : new Tensor[] {in.encoderHiddenStates(), in.encoderHiddenStates2(), in.imageEmbeds()}) {
            if (t.size(0) != batch) {
                throw new DiffuseException("every input needs batch size " + batch + " (from hidden_states); got "
                        + Arrays.toString(t.sizes().vec().get()));
            }
        }
        scalarPerItem(in.timestep(), "timestep", batch);
        if (in.timestepR() != null) {
            if (!config.useMeanflow()) {
                throw new DiffuseException("timestep_r was given but this transformer has use_meanflow=false; drop timestep_r");
            }
            scalarPerItem(in.timestepR(), "timestep_r", batch);
        }
    }

    private static void require(Tensor t, String name) {
        if (t == null) {
            throw new DiffuseException("transformer input '" + name + "' is missing");
        }
    }

    private static void shape(Tensor t, String name, int dims, int channelDim, long channels) {
        if (t.dim() != dims || t.size(channelDim) != channels) {
            throw new DiffuseException("transformer input '" + name + "' has shape " + Arrays.toString(t.sizes().vec().get())
                    + "; expected " + dims + " dims with " + channels + " at dim " + channelDim + " (from config.json)");
        }
    }

    private static void mask(Tensor mask, String name, Tensor states, long batch) {
        if (mask.dim() != 2 || mask.size(0) != batch || mask.size(1) != states.size(1)) {
            throw new DiffuseException("transformer input '" + name + "' has shape " + Arrays.toString(mask.sizes().vec().get())
                    + "; expected (" + batch + ", " + states.size(1) + ")");
        }
    }

    private static void scalarPerItem(Tensor t, String name, long batch) {
        if (t.dim() != 1 || t.size(0) != batch) {
            throw new DiffuseException("transformer input '" + name + "' has shape " + Arrays.toString(t.sizes().vec().get())
                    + "; expected (" + batch + ",)");
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}
