package io.diffuse.hunyuan15.transformer;

import static io.diffuse.hunyuan15.transformer.Nn.layerNorm;
import static io.diffuse.hunyuan15.transformer.Nn.modulate;

import io.diffuse.api.parallel.AttentionOutput;
import io.diffuse.api.parallel.JointTokens;
import io.diffuse.api.parallel.SequenceLayout;
import io.diffuse.api.parallel.SequenceParallelAttention;
import io.diffuse.hunyuan15.transformer.Modules.FeedForward;
import io.diffuse.hunyuan15.transformer.Modules.Linear;
import org.bytedeco.pytorch.Tensor;

/**
 * One dual-stream block: AdaLN-Zero modulation of the video and context streams, joint attention
 * through the sequence-parallel attention (video tokens may be this rank's shard; context tokens
 * are replicated), gated residuals, and tanh-GELU feed-forwards.
 */
final class HunyuanVideo15TransformerBlock {
    private static final double EPS = 1e-6;

    /** norm1 / norm1_context (AdaLayerNormZero): Linear(SiLU(temb)) -> 6 chunks. */
    private final Linear norm1Linear;
    private final Linear norm1ContextLinear;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear addQProj;
    private final Linear addKProj;
    private final Linear addVProj;
    private final Linear toOut;
    private final Linear toAddOut;
    private final Tensor normQ;
    private final Tensor normK;
    private final Tensor normAddedQ;
    private final Tensor normAddedK;
    private final FeedForward ff;
    private final FeedForward ffContext;
    private final int heads;

    HunyuanVideo15TransformerBlock(Weights w, String p, int heads) {
        norm1Linear = Linear.of(w, p + ".norm1.linear");
        norm1ContextLinear = Linear.of(w, p + ".norm1_context.linear");
        toQ = Linear.of(w, p + ".attn.to_q");
        toK = Linear.of(w, p + ".attn.to_k");
        toV = Linear.of(w, p + ".attn.to_v");
        addQProj = Linear.of(w, p + ".attn.add_q_proj");
        addKProj = Linear.of(w, p + ".attn.add_k_proj");
        addVProj = Linear.of(w, p + ".attn.add_v_proj");
        toOut = Linear.of(w, p + ".attn.to_out.0");
        toAddOut = Linear.of(w, p + ".attn.to_add_out");
        normQ = w.get(p + ".attn.norm_q.weight");
        normK = w.get(p + ".attn.norm_k.weight");
        normAddedQ = w.get(p + ".attn.norm_added_q.weight");
        normAddedK = w.get(p + ".attn.norm_added_k.weight");
        ff = FeedForward.geluTanh(w, p + ".ff");
        ffContext = FeedForward.geluTanh(w, p + ".ff_context");
        this.heads = heads;
    }

    /**
     * @param img (B, n, D) this rank's video tokens
     * @param ctx (B, M, D) context tokens (valid ones only)
     * @param temb (B, D)
     * @param cos (n, head_dim) fp32 RoPE table rows of this rank's tokens; sin likewise
     * @return {img, ctx} updated
     */
    Tensor[] forward(Tensor img, Tensor ctx, Tensor temb, Tensor cos, Tensor sin, SequenceParallelAttention attention,
            SequenceLayout layout) {
        Tensor silu = Nn.silu(temb);
        // Chunk order: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp.
        Tensor[] m = Modules.chunk(norm1Linear.forward(silu), 6);
        Tensor[] c = Modules.chunk(norm1ContextLinear.forward(silu), 6);
        Tensor normImg = modulate(layerNorm(img, null, null, EPS), m[0], m[1]);
        Tensor normCtx = modulate(layerNorm(ctx, null, null, EPS), c[0], c[1]);

        // (B, n, D) -> (B, n, H, d)
        Tensor q = HunyuanVideo15RotaryPosEmbed.apply(Nn.rmsNorm(toQ.forward(normImg).unflatten(2, heads, -1), normQ, EPS), cos, sin);
        Tensor k = HunyuanVideo15RotaryPosEmbed.apply(Nn.rmsNorm(toK.forward(normImg).unflatten(2, heads, -1), normK, EPS), cos, sin);
        Tensor v = toV.forward(normImg).unflatten(2, heads, -1);
        Tensor eq = Nn.rmsNorm(addQProj.forward(normCtx).unflatten(2, heads, -1), normAddedQ, EPS);
        Tensor ek = Nn.rmsNorm(addKProj.forward(normCtx).unflatten(2, heads, -1), normAddedK, EPS);
        Tensor ev = addVProj.forward(normCtx).unflatten(2, heads, -1);
        AttentionOutput out = attention.attention(q, k, v, new JointTokens(eq, ek, ev), layout);
        // (B, n, H, d) -> (B, n, D)
        Tensor attnImg = toOut.forward(out.video().flatten(2, 3));
        Tensor attnCtx = toAddOut.forward(out.joint().flatten(2, 3));

        img = img.add(attnImg.mul(m[2].unsqueeze(1)));
        ctx = ctx.add(attnCtx.mul(c[2].unsqueeze(1)));
        Tensor ffImg = ff.forward(modulate(layerNorm(img, null, null, EPS), m[3], m[4]));
        Tensor ffCtx = ffContext.forward(modulate(layerNorm(ctx, null, null, EPS), c[3], c[4]));
        img = img.add(m[5].unsqueeze(1).mul(ffImg));
        ctx = ctx.add(c[5].unsqueeze(1).mul(ffCtx));
        return new Tensor[] {img, ctx};
    }
}
