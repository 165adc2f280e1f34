"""Golden fixtures for step caching: diffusers' first-block cache and MagCache on the tiny pipeline.

Runs diffusers' HunyuanVideo15Pipeline (T2V, guidance 6, seed 42, the embeddings of t2v_cfg) on the
tiny pipeline of gen_pipeline.py (rebuilt from the same seed and checked against the stored weights)
for STEPS steps: once uncached, with `FirstBlockCacheConfig(threshold)` at two thresholds, and with
`MagCacheConfig` (ratios from a MagCache calibration run of this model, then fixed here). Records the
final latents, every cache decision (step, branch, computed or reused) and, for the first-block cache,
the relative first-block residual change behind each decision.

diffusers does not register HunyuanVideo 1.5's block for its cache hooks; it is registered here the
way diffusers registers the HunyuanVideo block (hidden states returned at index 0, encoder hidden
states at index 1). The cache is enabled on a fresh transformer, before it ever runs under
cache_context: diffusers caches the list of child hook registries on first use, so hooks added later
would never be given the "pred_cond"/"pred_uncond" contexts.

Writes plugin-hunyuan15/src/test/resources/fixtures/pipeline/:
  t2v_cache.safetensors   latents_none, latents_fbc_<t>, latents_mag (final latents), embeddings as t2v_cfg
  t2v_cache.json          settings, per run: decisions [{step, branch, compute, diff}], steps skipped;
                          mag_calibration: MagCache's calibration ratios per branch

Run from the repository root: PYTHONPATH=/work/diffusers-src/src:tools/reference python3 tools/reference/gen_cache.py
"""
import argparse
import json
import os

import torch
from safetensors.torch import load_file, save_file

from diffusers import ClassifierFreeGuidance, FlowMatchEulerDiscreteScheduler, HunyuanVideo15Pipeline
from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig
from diffusers.hooks import first_block_cache, mag_cache
from diffusers.hooks._helpers import TransformerBlockMetadata, TransformerBlockRegistry
from diffusers.models.transformers.transformer_hunyuan_video15 import HunyuanVideo15TransformerBlock

import gen_pipeline
import gen_transformer

STEPS = 8
GUIDANCE = 6.0
SEED = 42
FBC_THRESHOLDS = (0.3, 0.45)
MAG = dict(threshold=0.1, max_skip_steps=2, retention_ratio=0.2)

TransformerBlockRegistry.register(
    model_class=HunyuanVideo15TransformerBlock,
    metadata=TransformerBlockMetadata(return_hidden_states_index=0, return_encoder_hidden_states_index=1))

# Every decision of the current run: the hooks below record them; diffusers itself is unchanged.
decisions = []


def _record_fbc(original):
    def should_compute(self, hidden_states_residual):
        state = self.state_manager.get_state()
        diff = None
        if state.head_block_residual is not None:
            prev = state.head_block_residual
            diff = ((hidden_states_residual - prev).abs().mean() / prev.abs().mean()).item()
        compute = original(self, hidden_states_residual)
        decisions.append({"branch": self.state_manager._current_context, "compute": bool(compute), "diff": diff})
        return compute
    return should_compute


def _record_mag(original):
    def new_forward(self, module, *args, **kwargs):
        out = original(self, module, *args, **kwargs)
        state = self.state_manager.get_state()
        decisions.append({"branch": self.state_manager._current_context, "compute": bool(state.should_compute)})
        return out
    return new_forward


first_block_cache.FBCHeadBlockHook._should_compute_remaining_blocks = _record_fbc(
    first_block_cache.FBCHeadBlockHook._should_compute_remaining_blocks)
mag_cache.MagCacheHeadHook.new_forward = _record_mag(mag_cache.MagCacheHeadHook.new_forward)


def fresh_transformer(config, stored):
    """gen_pipeline's tiny transformer, rebuilt; must equal the stored fixture weights."""
    model = gen_transformer.make_model(config, seed=20, byt5_width=32)
    state = model.state_dict()
    for key, value in stored.items():
        if not torch.equal(state[key].to(torch.bfloat16), value):
            raise SystemExit(f"rebuilt tiny transformer differs from the fixture at {key}; rerun gen_pipeline.py first")
    return model


def run(transformer, vae, emb, cache_config):
    """One T2V generation; returns (latents, decisions with step numbers)."""
    decisions.clear()
    if cache_config is not None:
        transformer.enable_cache(cache_config)
    pipe = HunyuanVideo15Pipeline(text_encoder=None, tokenizer=None, transformer=transformer, vae=vae,
                                  scheduler=FlowMatchEulerDiscreteScheduler(shift=gen_pipeline.SHIFT),
                                  text_encoder_2=None, tokenizer_2=None,
                                  guider=ClassifierFreeGuidance(guidance_scale=GUIDANCE))
    with torch.no_grad():
        latents = pipe(prompt_embeds=emb["prompt_embeds"], **{k: v for k, v in emb.items() if k != "prompt_embeds"},
                       height=gen_pipeline.HEIGHT, width=gen_pipeline.WIDTH, num_frames=gen_pipeline.FRAMES,
                       num_inference_steps=STEPS, generator=torch.Generator().manual_seed(SEED),
                       output_type="latent", return_dict=False)[0]
    recorded = []
    for i, d in enumerate(decisions):
        recorded.append(dict(d, step=i // 2))  # two branches per step, cond first
    return latents, recorded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="plugin-hunyuan15/src/test/resources/fixtures/pipeline")
    args = ap.parse_args()
    torch.set_num_threads(2)

    config = dict(gen_transformer.TINY, target_size=64)
    stored = load_file(os.path.join(args.out, "tiny", "transformer", "diffusion_pytorch_model.safetensors"))
    vae = gen_pipeline.gen_vae.make_vae(gen_pipeline.gen_vae.CONFIG_A, seed=21)
    emb = gen_pipeline.embeddings(config, 30)

    tensors = {k: v.contiguous() for k, v in emb.items()}
    runs = {}
    latents, _ = run(fresh_transformer(config, stored), vae, emb, None)
    tensors["latents_none"] = latents.contiguous()
    for threshold in FBC_THRESHOLDS:
        latents, recorded = run(fresh_transformer(config, stored), vae, emb, FirstBlockCacheConfig(threshold=threshold))
        name = f"fbc_{threshold}"
        tensors["latents_" + name] = latents.contiguous()
        runs[name] = {"policy": "first-block", "threshold": threshold, "decisions": recorded,
                      "skipped": sum(not d["compute"] for d in recorded)}

    # MagCache ratios are model-dependent: calibrate on this model (diffusers prints them), then use them.
    calibration = fresh_transformer(config, stored)
    calibration.enable_cache(MagCacheConfig(calibrate=True, num_inference_steps=STEPS))
    ratios = {}
    original_advance = mag_cache.MagCacheBlockHook._advance_step

    def advance(self, state):
        if state.step_index + 1 >= self.config.num_inference_steps and state.calibration_ratios:
            ratios[self.state_manager._current_context] = list(state.calibration_ratios)
        original_advance(self, state)
    mag_cache.MagCacheBlockHook._advance_step = advance
    run(calibration, vae, emb, None)
    mag_cache.MagCacheBlockHook._advance_step = original_advance
    mag_ratios = [round(r, 5) for r in ratios["pred_cond"]]  # the conditional branch's ratios, as printed
    latents, recorded = run(fresh_transformer(config, stored), vae, emb,
                            MagCacheConfig(mag_ratios=mag_ratios, num_inference_steps=STEPS, **MAG))
    tensors["latents_mag"] = latents.contiguous()
    runs["mag"] = dict(MAG, policy="mag-cache", mag_ratios=mag_ratios, decisions=recorded,
                       skipped=sum(not d["compute"] for d in recorded))

    for name, r in runs.items():
        diff = (tensors["latents_" + name] - tensors["latents_none"]).abs().max().item()
        r["max_abs_diff_to_uncached"] = diff
        print(f"{name}: skipped {r['skipped']} of {2 * STEPS} forwards, max |latents - uncached| {diff:.3e}")
    description = (f"T2V {gen_pipeline.HEIGHT}x{gen_pipeline.WIDTH}x{gen_pipeline.FRAMES}, {STEPS} steps, guidance "
                   f"{GUIDANCE}, shift {gen_pipeline.SHIFT}, seed {SEED}, embeddings of t2v_cfg")
    save_file(tensors, os.path.join(args.out, "t2v_cache.safetensors"), metadata={"case": description})
    with open(os.path.join(args.out, "t2v_cache.json"), "w") as f:
        json.dump({"case": description, "steps": STEPS, "guidance": GUIDANCE, "seed": SEED, "runs": runs,
                   "mag_calibration": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
