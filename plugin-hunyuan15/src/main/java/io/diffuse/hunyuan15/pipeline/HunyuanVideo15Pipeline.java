package io.diffuse.hunyuan15.pipeline;

import io.diffuse.api.DiffuseException;
import io.diffuse.api.cache.CacheStep;
import io.diffuse.api.cache.StepCache;
import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.checkpoint.Checkpoint;
import io.diffuse.api.dist.ProcessGroup;
import io.diffuse.api.dist.ProcessGroups;
import io.diffuse.api.dist.RootBroadcast;
import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.GenerationResult;
import io.diffuse.api.model.Pipeline;
import io.diffuse.api.model.ProgressListener;
import io.diffuse.api.model.Task;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.DeviceOps;
import io.diffuse.api.runtime.ModelContext;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.hunyuan15.image.HunyuanVideo15ImageProcessor;
import io.diffuse.hunyuan15.image.SiglipImageEncoder;
import io.diffuse.hunyuan15.text.EncoderOptions;
import io.diffuse.hunyuan15.text.HunyuanPromptEncoder;
import io.diffuse.hunyuan15.image.ResolutionBuckets;
import io.diffuse.hunyuan15.transformer.HunyuanVideo15Transformer3DModel;
import io.diffuse.hunyuan15.vae.AutoencoderKLHunyuanVideo15;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * HunyuanVideo 1.5 text-to-video and image-to-video generation as diffusers'
 * {@code HunyuanVideo15Pipeline} and {@code HunyuanVideo15ImageToVideoPipeline} run it: noise from a
 * CPU generator seeded with the request's seed, the flow-match Euler schedule with shift,
 * {@code model_in = cat[latents, cond, mask]} (zeros for T2V; the VAE-encoded image latent times the
 * scaling factor at latent frame 0 and a mask of ones there for I2V), classifier-free guidance as two
 * separate forwards (one when the scale is 1) or split over the cfg group, meanflow's
 * {@code timestep_r}, and decoding through the configured VAE executor. Every rank calls
 * {@link #generate} with the same request.
 */
public final class HunyuanVideo15Pipeline implements Pipeline {
    /** Prompt embedding names, as the diffusers pipelines name their arguments. */
    public static final List<String> PROMPT_KEYS = List.of("prompt_embeds", "prompt_embeds_mask", "prompt_embeds_2",
            "prompt_embeds_mask_2");
    /** The unconditional (negative prompt) embedding names. */
    public static final List<String> NEGATIVE_KEYS = List.of("negative_prompt_embeds", "negative_prompt_embeds_mask",
            "negative_prompt_embeds_2", "negative_prompt_embeds_mask_2");
    /** SigLIP tokens of the I2V image (B, L, image_embed_dim), the transformer's argument name. */
    public static final String IMAGE_EMBEDS = "image_embeds";
    /** The embeddings world rank 0 shares with the other ranks, in the order of the broadcasts (sorted by name). */
    private static final List<String> SHARED_KEYS = sharedKeys();
    /** Tokens of the all-zero T2V image_embeds, as the diffusers T2V pipeline makes them. */
    private static final int VISION_TOKENS = 729;

    private final HunyuanVideo15Transformer3DModel transformer;
    private final AutoencoderKLHunyuanVideo15 vae;
    private final FlowMatchEulerDiscreteScheduler scheduler;
    private final int targetSize;
    private final DType dtype;
    /** Native prompt encoders, when the pipeline root has text_encoder/; else embeddings must be given. */
    private HunyuanPromptEncoder promptEncoder;
    /** The SigLIP image encoder, when the pipeline root has image_encoder/; else I2V needs image_embeds given. */
    private SiglipImageEncoder imageEncoder;

    /** The configuration subtree of this plugin's settings (encoders), see {@link EncoderOptions}. */
    public static final String CONFIGURATION = "diffuse.hunyuan15";
    /** The step cache's settings (policy, threshold, the policy's own keys), see {@link StepCachePolicy}. */
    public static final String CACHE_CONFIGURATION = "diffuse.cache";

    /** A pipeline over loaded components; it owns and closes them. */
    public HunyuanVideo15Pipeline(HunyuanVideo15Transformer3DModel transformer, AutoencoderKLHunyuanVideo15 vae,
            FlowMatchEulerDiscreteScheduler scheduler, int targetSize, DType dtype) {
        this.transformer = transformer;
        this.vae = vae;
        this.scheduler = scheduler;
        this.targetSize = targetSize;
        this.dtype = dtype;
    }

    /**
     * Loads a diffusers pipeline root: {@code transformer/}, {@code vae/} and
     * {@code scheduler/scheduler_config.json}.
     */
    public static HunyuanVideo15Pipeline load(Path root, ModelContext context) {
        Path schedulerConfig = root.resolve("scheduler").resolve("scheduler_config.json");
        if (!Files.isRegularFile(schedulerConfig)) {
            throw new DiffuseException(root + " has no scheduler/scheduler_config.json; --model must be a diffusers "
                    + "HunyuanVideo 1.5 pipeline root (model_index.json with transformer/, vae/ and scheduler/ folders)");
        }
        FlowMatchEulerDiscreteScheduler scheduler = FlowMatchEulerDiscreteScheduler.fromConfig(schedulerConfig);
        HunyuanVideo15Transformer3DModel transformer;
        int targetSize;
        try (Checkpoint checkpoint = context.checkpoints().open(root, "transformer")) {
            Object target = checkpoint.config().get("target_size");
            targetSize = target instanceof Number n ? n.intValue() : 640;
            transformer = HunyuanVideo15Transformer3DModel.load(checkpoint, context.dtype(), context.device());
        }
        HunyuanVideo15Pipeline pipeline;
        try (Checkpoint checkpoint = context.checkpoints().open(root, "vae")) {
            pipeline = new HunyuanVideo15Pipeline(transformer,
                    AutoencoderKLHunyuanVideo15.load(checkpoint, context.dtype(), context.device()), scheduler, targetSize,
                    context.dtype());
        } catch (RuntimeException e) {
            transformer.close();
            throw e;
        }
        try {
            // Optional components, as in diffusers' model_index.json: prompt and image encoders, each native from
            // its folder or a TorchScript module named in configuration (diffuse.hunyuan15, reference.conf).
            EncoderOptions encoders = EncoderOptions.fromMap(context.configuration(CONFIGURATION));
            // World rank 0 alone encodes prompts and I2V images (generate broadcasts the embeddings), so only it
            // loads the encoders: the other ranks save their load time and memory (Qwen2.5-VL 7B is 15 GB in bf16).
            boolean loadsEncoders = context.rank() == 0;
            if (loadsEncoders && (Files.isDirectory(root.resolve("text_encoder")) || encoders.textEncoderTorchScript() != null)) {
                pipeline.promptEncoder = HunyuanPromptEncoder.load(root, context.checkpoints(), encoders, context.dtype(),
                        context.device());
            }
            if (loadsEncoders && (Files.isDirectory(root.resolve("image_encoder")) || encoders.imageEncoderTorchScript() != null)) {
                pipeline.imageEncoder = SiglipImageEncoder.load(root, context.checkpoints(), encoders.imageEncoderTorchScript(),
                        context.dtype(), context.device());
            }
        } catch (RuntimeException e) {
            pipeline.close();
            throw e;
        }
        return pipeline;
    }

    /** Whether this pipeline can encode prompt text (only world rank 0 loads the encoders). */
    boolean hasPromptEncoder() {
        return promptEncoder != null;
    }

    /** Whether this pipeline can encode an I2V input image (only world rank 0 loads the encoder). */
    boolean hasImageEncoder() {
        return imageEncoder != null;
    }

    /** Encodes prompt text with {@code encoder} from now on (the pipeline closes it). */
    void usePromptEncoder(HunyuanPromptEncoder encoder) {
        if (promptEncoder != null) {
            promptEncoder.close();
        }
        promptEncoder = encoder;
    }

    /** Encodes I2V images with {@code encoder} from now on (the pipeline closes it). */
    void useImageEncoder(SiglipImageEncoder encoder) {
        if (imageEncoder != null) {
            imageEncoder.close();
        }
        imageEncoder = encoder;
    }

    /** The VAE (decoding goes through the configured executor; tests decode reference latents with it). */
    public AutoencoderKLHunyuanVideo15 vae() {
        return vae;
    }

    /** The scheduler as configured by the checkpoint (its shift is the default flow shift). */
    public FlowMatchEulerDiscreteScheduler scheduler() {
        return scheduler;
    }

    @Override
    public GenerationResult generate(GenerationRequest request, RuntimeContext context, ProgressListener progress) {
        ProcessGroups groups = context.groups();
        boolean guidance = Math.abs(request.guidanceScale() - 1.0) > 1e-9; // diffusers: not math.isclose(scale, 1.0)
        boolean cfgParallel = guidance && groups.plan().cfg() == 2;
        ScalarType runType = dtype.scalarType();
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            // ---- encode: embeddings, I2V image latent, size.
            progress.stageStarted("encode");
            HunyuanVideo15ImageProcessor.RgbImage picture = null;
            if (request.task() == Task.IMAGE_TO_VIDEO) {
                Path imagePath = request.image().orElseThrow(() -> new DiffuseException(
                        "image-to-video needs an input image (--image FILE)"));
                // diffusers: calculate_default_height_width(image) then resize(resize_mode="crop"), on world rank 0 only.
                picture = inputImage(imagePath, groups.world(), context.device());
            }
            // World rank 0 alone encodes the prompt (and warns about a cut prompt) and, for I2V, the image with
            // SigLIP; the others receive the embeddings.
            Map<String, Tensor> embeds = sharedEmbeddings(request, guidance, picture, groups.world(), context.device());
            int height;
            int width;
            Tensor imageLatent = null;
            Tensor imageEmbeds;
            if (picture != null) {
                height = picture.height();
                width = picture.width();
                Tensor sample = HunyuanVideo15ImageProcessor.toTensor(picture).to(context.device(), runType);
                // diffusers: vae.encode(image).mode() * scaling_factor; every rank needs it for its cond input.
                Tensor latent = context.vaeExecutor().encode(vae, sample,
                        new io.diffuse.api.vae.VaeRun(context.tiling(), groups, true));
                imageLatent = latent.mul(new Scalar(vae.scalingFactor())).to(runType);
                imageEmbeds = embeds.get(IMAGE_EMBEDS);
                if (imageEmbeds == null) {
                    throw new DiffuseException("image-to-video needs SigLIP image embeddings: this model has no image_encoder/ folder,"
                            + " so pass them in --prompt-embeds as '" + IMAGE_EMBEDS + "' (1, tokens, "
                            + transformer.config().imageEmbedDim() + ")");
                }
            } else {
                height = request.height().orElse(-1);
                width = request.width().orElse(-1);
                if (request.height().isEmpty() && request.width().isEmpty()) {
                    // diffusers' default aspect ratio 16:9 (width:height).
                    ResolutionBuckets.Size bucket = ResolutionBuckets.closest(9, 16, targetSize);
                    height = bucket.height();
                    width = bucket.width();
                } else if (request.height().isEmpty() || request.width().isEmpty()) {
                    throw new DiffuseException("give both --height and --width, or neither (then the 16:9 bucket of "
                            + "target size " + targetSize + " is used)");
                }
                imageEmbeds = DeviceOps.zeros(new long[] {1, VISION_TOKENS, transformer.config().imageEmbedDim()}, runType,
                        context.device());
            }
            checkSize(height, width, request.numFrames());
            progress.stageFinished("encode");
            // A stage boundary every rank reaches: a cancel asked during the encode stops here, before denoising.
            if (progress.interruptRequested("encode", 0, 0)) {
                throw new io.diffuse.api.model.GenerationInterruptedException("encode");
            }

            // ---- denoise.
            progress.stageStarted("denoise");
            FlowMatchEulerDiscreteScheduler sched = request.flowShift().map(scheduler::withShift).orElse(scheduler);
            int steps = request.numInferenceSteps();
            sched.setTimesteps(steps);
            float[] timesteps = sched.timesteps();
            long channels = vae.latentChannels();
            long frames = (request.numFrames() - 1) / vae.temporalCompression() + 1;
            long[] shape = {1, channels, frames, height / vae.spatialCompression(), width / vae.spatialCompression()};
            Device device = context.device();
            Tensor latents = noise(shape, request.seed(), runType, device);
            // latent_condition and mask: zeros for T2V; for I2V the image latent at frame 0, zeros after, mask 1 at frame 0.
            Tensor cond = DeviceOps.zeros(shape, runType, device);
            Tensor mask = DeviceOps.zeros(new long[] {1, 1, frames, shape[3], shape[4]}, runType, device);
            if (imageLatent != null) {
                cond.narrow(2, 0, 1).copy_(imageLatent);
                mask.narrow(2, 0, 1).fill_(new Scalar(1.0));
            }
            Map<String, Tensor> condEmbeds = select(embeds, PROMPT_KEYS, runType, device);
            Map<String, Tensor> uncondEmbeds = guidance ? select(embeds, NEGATIVE_KEYS, runType, device) : null;
            Tensor imageEmbedsRun = imageEmbeds.to(device, runType);
            SequenceParallelAttention attention = context.attention();
            boolean meanflow = transformer.config().useMeanflow();
            latents.retainReference();
            try {
                // One step cache per generation, its state kept per guidance branch (diffusers' cache_context names).
                StepCache cache = context.cachePolicy().create(new StepCachePolicy.CacheRun(
                        context.configuration(CACHE_CONFIGURATION), steps, context.rank()));
                ProcessGroup sequence = groups.sequence();
                try (cache) {
                    for (int i = 0; i < steps; i++) {
                        int stepIndex = i;
                        java.util.function.Function<String, HunyuanVideo15Transformer3DModel.Caching> caching =
                                branch -> new HunyuanVideo15Transformer3DModel.Caching(cache, new CacheStep(stepIndex, branch), sequence);
                        Tensor next;
                        try (PointerScope step = new PointerScope()) {
                            Tensor modelIn = torch.cat(new org.bytedeco.pytorch.TensorArrayRef(
                                    new org.bytedeco.pytorch.TensorVector(latents, cond, mask)), 1);
                            Tensor t = scalar(timesteps[i], runType, device);
                            Tensor tr = meanflow ? scalar(i == steps - 1 ? 0f : timesteps[i + 1], runType, device) : null;
                            Tensor pred;
                            if (!guidance) {
                                pred = forward(modelIn, t, tr, condEmbeds, imageEmbedsRun, attention, caching.apply(CacheStep.COND));
                            } else if (cfgParallel) {
                                // Each rank of the cfg pair runs one branch and so keeps only that branch's cache state.
                                boolean conditional = groups.runsConditional();
                                Map<String, Tensor> mine = conditional ? condEmbeds : uncondEmbeds;
                                pred = groups.combineGuidance(forward(modelIn, t, tr, mine, imageEmbedsRun, attention,
                                        caching.apply(conditional ? CacheStep.COND : CacheStep.UNCOND)), request.guidanceScale());
                            } else {
                                Tensor predCond = forward(modelIn, t, tr, condEmbeds, imageEmbedsRun, attention, caching.apply(CacheStep.COND));
                                Tensor predUncond = forward(modelIn, t, tr, uncondEmbeds, imageEmbedsRun, attention,
                                        caching.apply(CacheStep.UNCOND));
                                pred = predUncond.add(predCond.sub(predUncond).mul(new Scalar(request.guidanceScale())));
                            }
                            next = sched.step(pred, i, latents);
                            next.retainReference();
                        }
                        latents.releaseReference();
                        latents = next;
                        progress.step("denoise", i + 1, steps);
                        // diffusers' `interrupt`, asked on every rank at the same step (see ProgressListener).
                        if (progress.interruptRequested("denoise", i + 1, steps)) {
                            throw new io.diffuse.api.model.GenerationInterruptedException("denoise", i + 1, steps);
                        }
                    }
                }
                progress.stageFinished("denoise");

                // ---- decode.
                progress.stageStarted("decode");
                Tensor decoded = context.vaeExecutor().decode(vae, latents.div(new Scalar(vae.scalingFactor())), context.vaeRun());
                // Ranks that do not receive the result get null or an empty tensor from the executor.
                Tensor video = decoded == null || decoded.numel() == 0 ? null
                        : decoded.to(ScalarType.Float).mul(new Scalar(0.5)).add(new Scalar(0.5)).clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(0.0)),
                                new org.bytedeco.pytorch.ScalarOptional(new Scalar(1.0)));
                progress.stageFinished("decode");
                Tensor latentsOut = latents.to(ScalarType.Float).clone();
                escape(latentsOut, outer);
                if (video != null) {
                    escape(video, outer);
                }
                // Stage times and memory are measured by the engine around the progress events.
                return new GenerationResult(latentsOut, video, Map.of(), Map.of());
            } finally {
                // The latents outlive each step's scope; released on every way out (a cancel, a failed allocation).
                latents.releaseReference();
            }
        }
    }

    private static void escape(Tensor t, PointerScope outer) {
        io.diffuse.api.tensor.Scopes.escape(t, outer);
    }

    private void checkSize(int height, int width, int numFrames) {
        int r = vae.spatialCompression();
        if (height <= 0 || width <= 0 || height % r != 0 || width % r != 0) {
            throw new DiffuseException("height and width must be positive multiples of " + r + ", got " + height + "x"
                    + width + " (height x width)");
        }
        int rt = vae.temporalCompression();
        if (numFrames < 1 || (numFrames - 1) % rt != 0) {
            throw new DiffuseException("--num-frames must be " + rt + "k+1 (e.g. 1, " + (1 + rt) + ", 121), got " + numFrames);
        }
    }

    private Tensor forward(Tensor modelIn, Tensor t, Tensor tr, Map<String, Tensor> e, Tensor imageEmbeds,
            SequenceParallelAttention attention, HunyuanVideo15Transformer3DModel.Caching caching) {
        return transformer.forward(new HunyuanVideo15Transformer3DModel.Inputs(modelIn, t, e.get("encoder_hidden_states"),
                e.get("encoder_attention_mask"), e.get("encoder_hidden_states_2"), e.get("encoder_attention_mask_2"),
                imageEmbeds, tr), attention, caching);
    }

    /**
     * A (1,) timestep tensor on the device: the float32 schedule value cast to the run dtype, as diffusers
     * does with its timesteps (set_timesteps(device=device)).
     */
    private static Tensor scalar(float value, ScalarType runType, Device device) {
        return torch.full(new long[] {1}, new Scalar((double) value), DeviceOps.options(ScalarType.Float, device)).to(runType);
    }

    /**
     * diffusers' {@code randn_tensor(shape, generator=torch.Generator("cpu").manual_seed(seed), device, dtype)}:
     * a CPU generator seeded with {@code seed}, normal samples drawn on the CPU directly in the run dtype
     * (so every device gets the same numbers), then moved to {@code device}, as randn_tensor does for a
     * CPU generator.
     */
    static Tensor noise(long[] shape, long seed, ScalarType runType, Device device) {
        org.bytedeco.pytorch.Generator generator = torch.createCPUGenerator(seed);
        Tensor cpu = torch.randn(shape, new GeneratorOptional(generator), new TensorOptions(runType));
        return device.is_cpu() ? cpu : cpu.to(device, runType);
    }

    /** The transformer's argument names for one guidance branch, on the device. */
    private static Map<String, Tensor> select(Map<String, Tensor> embeds, List<String> keys, ScalarType runType, Device device) {
        Map<String, Tensor> m = new HashMap<>();
        m.put("encoder_hidden_states", embeds.get(keys.get(0)).to(device, runType));
        Tensor mask = embeds.get(keys.get(1));
        m.put("encoder_attention_mask", mask.to(device, mask.scalar_type()));
        m.put("encoder_hidden_states_2", embeds.get(keys.get(2)).to(device, runType));
        Tensor mask2 = embeds.get(keys.get(3));
        m.put("encoder_attention_mask_2", mask2.to(device, mask2.scalar_type()));
        return m;
    }

    private Map<String, Tensor> embeddings(GenerationRequest request, boolean guidance, boolean warnOnce) {
        Map<String, Tensor> given = request.promptEmbeds() == null ? Map.of() : request.promptEmbeds();
        boolean onlyImage = given.keySet().stream().allMatch(IMAGE_EMBEDS::equals);
        if (onlyImage && promptEncoder != null) {
            Map<String, Tensor> encoded = new HashMap<>(promptEncoder.encode(request.prompt() == null ? "" : request.prompt(),
                    guidance ? (request.negativePrompt() == null ? "" : request.negativePrompt()) : null, warnOnce));
            encoded.putAll(given);
            return encoded;
        }
        if (given.isEmpty()) {
            throw new DiffuseException("this model has no text encoders (no text_encoder/ folder): pass precomputed embeddings with "
                    + "--prompt-embeds FILE (safetensors with " + PROMPT_KEYS + (guidance ? " and " + NEGATIVE_KEYS : "")
                    + ", as diffusers' pipeline arguments)");
        }
        Set<String> missing = new TreeSet<>(PROMPT_KEYS);
        if (guidance) {
            missing.addAll(NEGATIVE_KEYS);
        }
        missing.removeAll(given.keySet());
        if (!missing.isEmpty()) {
            throw new DiffuseException("the prompt embeddings lack " + missing + (guidance
                    ? "; guidance scale " + request.guidanceScale() + " needs the negative_* embeddings too (or use guidance 1)"
                    : ""));
        }
        return given;
    }

    /**
     * {@link #rankZeroEmbeddings} as computed by world rank 0 alone, on every rank ({@link RootBroadcast}: a
     * header of keys, dtypes and shapes, then each tensor's bytes, so every dtype a safetensors file or the
     * encoders give arrives bit-identical; when rank 0 fails, every rank stops with its message). Only the
     * keys the pipeline reads are shared; other tensors of a given embeddings file are read by no rank.
     * {@code picture} is an I2V request's cropped input image (null for T2V).
     */
    Map<String, Tensor> sharedEmbeddings(GenerationRequest request, boolean guidance,
            HunyuanVideo15ImageProcessor.RgbImage picture, ProcessGroup world, Device device) {
        return RootBroadcast.fromRoot(world, device, SHARED_KEYS, "encode the prompt",
                () -> rankZeroEmbeddings(request, guidance, picture));
    }

    /** The prompt embeddings and, for I2V without given image embeddings, SigLIP's embeddings of {@code picture}. */
    private Map<String, Tensor> rankZeroEmbeddings(GenerationRequest request, boolean guidance,
            HunyuanVideo15ImageProcessor.RgbImage picture) {
        Map<String, Tensor> embeds = embeddings(request, guidance, true);
        if (picture != null && !embeds.containsKey(IMAGE_EMBEDS) && imageEncoder != null) {
            embeds = new HashMap<>(embeds);
            // diffusers encodes the resized and cropped image with SigLIP's own preprocessing.
            embeds.put(IMAGE_EMBEDS, imageEncoder.encode(hwc(picture)));
        }
        return embeds;
    }

    private static List<String> sharedKeys() {
        Set<String> keys = new TreeSet<>(PROMPT_KEYS);
        keys.addAll(NEGATIVE_KEYS);
        keys.add(IMAGE_EMBEDS);
        return List.copyOf(keys);
    }

    /**
     * The I2V input image resized and cropped to its bucket (diffusers' calculate_default_height_width
     * and resize(resize_mode="crop")). Only world rank 0 reads and decodes the file (under the pixel limit
     * of {@link HunyuanVideo15ImageProcessor#read}) and preprocesses it; the other ranks receive the
     * cropped pixels, uint8 (H, W, 3), by a world broadcast, after its size (H, W) in a first one. When
     * rank 0 fails it sends the size (-1, -1) so the others stop too instead of waiting.
     */
    private HunyuanVideo15ImageProcessor.RgbImage inputImage(Path path, ProcessGroup world, Device device) {
        HunyuanVideo15ImageProcessor.RgbImage cropped = null;
        RuntimeException failure = null;
        if (world.rank() == 0) {
            try {
                HunyuanVideo15ImageProcessor.RgbImage picture = HunyuanVideo15ImageProcessor.read(path);
                ResolutionBuckets.Size bucket = HunyuanVideo15ImageProcessor.defaultSize(picture, targetSize);
                cropped = HunyuanVideo15ImageProcessor.resizeAndCrop(picture, bucket.height(), bucket.width());
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (world.size() == 1) {
            if (failure != null) {
                throw failure;
            }
            return cropped;
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor size = DeviceOps.zeros(new long[] {2}, ScalarType.Long, device);
            if (world.rank() == 0) {
                size.narrow(0, 0, 1).fill_(new Scalar(cropped == null ? -1 : cropped.height()));
                size.narrow(0, 1, 1).fill_(new Scalar(cropped == null ? -1 : cropped.width()));
            }
            world.broadcast(size, 0);
            if (failure != null) {
                throw failure;
            }
            Tensor hostSize = size.cpu();
            int height = (int) hostSize.narrow(0, 0, 1).item_long();
            int width = (int) hostSize.narrow(0, 1, 1).item_long();
            if (height < 0) {
                throw new DiffuseException("world rank 0 could not read the input image " + path + " (its error says why)");
            }
            // (H, W, 3) uint8: a third of the bytes of the float sample, which every rank derives from it.
            Tensor pixels = world.rank() == 0 ? hwc(cropped).to(device, ScalarType.Byte)
                    : DeviceOps.zeros(new long[] {height, width, 3}, ScalarType.Byte, device);
            world.broadcast(pixels, 0);
            if (world.rank() == 0) {
                return cropped;
            }
            byte[] rgb = new byte[height * width * 3];
            new BytePointer(pixels.cpu().contiguous().data_ptr_byte()).get(rgb);
            return new HunyuanVideo15ImageProcessor.RgbImage(width, height, rgb);
        }
    }

    /** An RGB image as a uint8 (H, W, 3) tensor. */
    private static Tensor hwc(HunyuanVideo15ImageProcessor.RgbImage image) {
        Tensor t = torch.zeros(new long[] {image.height(), image.width(), 3}, new TensorOptions(ScalarType.Byte));
        new BytePointer(t.data_ptr_byte()).put(image.rgb());
        return t;
    }

    @Override
    public void close() {
        transformer.close();
        vae.close();
        if (promptEncoder != null) {
            promptEncoder.close();
        }
        if (imageEncoder != null) {
            imageEncoder.close();
        }
    }
}
