package io.diffuse.hunyuan15.transformer;

import io.diffuse.hunyuan15.transformer.Modules.FeedForward;
import io.diffuse.hunyuan15.transformer.Modules.LayerNorm;
import io.diffuse.hunyuan15.transformer.Modules.Linear;
import io.diffuse.hunyuan15.transformer.Modules.TimestepEmbedding;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The Qwen text stream ({@code context_embedder}): pooled text + timestep conditioning, proj_in, and
 * the individual token refiner blocks. Works on the valid tokens only, so no mask is needed: valid
 * tokens attend only to valid tokens in diffusers too ({@code m_i & m_j}).
 */
final class HunyuanVideo15TokenRefiner {
    /** {@code time_text_embed} (CombinedTimestepTextProjEmbeddings). */
    private final TimestepEmbedding timestepEmbedder;
    private final TimestepEmbedding textEmbedder;
    private final Linear projIn;
    private final List<RefinerBlock> refinerBlocks = new ArrayList<>();

    HunyuanVideo15TokenRefiner(Weights w, String prefix, HunyuanVideo15TransformerConfig config) {
        timestepEmbedder = TimestepEmbedding.of(w, prefix + ".time_text_embed.timestep_embedder");
        textEmbedder = TimestepEmbedding.of(w, prefix + ".time_text_embed.text_embedder");
        projIn = Linear.of(w, prefix + ".proj_in");
        for (int i = 0; i < config.numRefinerLayers(); i++) {
            refinerBlocks.add(new RefinerBlock(w, prefix + ".token_refiner.refiner_blocks." + i, config.numAttentionHeads()));
        }
    }

    /**
     * @param text (1, L, C) valid Qwen tokens only
     * @param timestep (1,) fp32
     * @return (1, L, D)
     */
    Tensor forward(Tensor text, Tensor timestep) {
        // Mean over valid tokens, in fp32 and cast back (diffusers' masked mean).
        Tensor pooled = text.to(ScalarType.Float).mean(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional())
                .to(text.scalar_type());
        Tensor tproj = Nn.timestepProjection(timestep, HunyuanVideo15TransformerConfig.TIMESTEP_CHANNELS).to(text.scalar_type());
        Tensor temb = timestepEmbedder.forward(tproj).add(textEmbedder.forward(pooled));
        Tensor x = projIn.forward(text);
        for (RefinerBlock block : refinerBlocks) {
            x = block.forward(x, temb);
        }
        return x;
    }

    /** HunyuanVideo15IndividualTokenRefinerBlock. */
    private static final class RefinerBlock {
        private final LayerNorm norm1;
        private final Linear toQ;
        private final Linear toK;
        private final Linear toV;
        private final Linear toOut;
        private final LayerNorm norm2;
        private final FeedForward ff;
        /** norm_out (HunyuanVideo15AdaNorm): Linear(SiLU(temb)) chunked into gate_msa, gate_mlp. */
        private final Linear normOutLinear;
        private final int heads;

        RefinerBlock(Weights w, String p, int heads) {
            norm1 = LayerNorm.of(w, p + ".norm1", 1e-6);
            toQ = Linear.of(w, p + ".attn.to_q");
            toK = Linear.of(w, p + ".attn.to_k");
            toV = Linear.of(w, p + ".attn.to_v");
            toOut = Linear.of(w, p + ".attn.to_out.0");
            norm2 = LayerNorm.of(w, p + ".norm2", 1e-6);
            ff = FeedForward.linearSilu(w, p + ".ff");
            normOutLinear = Linear.of(w, p + ".norm_out.linear");
            this.heads = heads;
        }

        Tensor forward(Tensor x, Tensor temb) {
            Tensor h = norm1.forward(x);
            Tensor attn = toOut.forward(Modules.selfAttention(toQ.forward(h), toK.forward(h), toV.forward(h), heads));
            Tensor[] gates = Modules.chunk(normOutLinear.forward(Nn.silu(temb)), 2);
            Tensor gateMsa = gates[0].unsqueeze(1);
            Tensor gateMlp = gates[1].unsqueeze(1);
            x = x.add(attn.mul(gateMsa));
            return x.add(ff.forward(norm2.forward(x)).mul(gateMlp));
        }
    }
}
