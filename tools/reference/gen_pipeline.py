"""Golden fixtures for the whole HunyuanVideo 1.5 pipeline (T2V with CFG, I2V, meanflow I2V).

Runs diffusers' HunyuanVideo15Pipeline and HunyuanVideo15ImageToVideoPipeline on a tiny
diffusers-format pipeline (transformer/, vae/, scheduler/ folders; weights rounded to and stored as
bf16, computed in fp32) with precomputed prompt embeddings, and records the final latents
(output_type="latent") and the decoded video (vae.decode(latents / scaling_factor) * 0.5 + 0.5,
clamped to [0, 1]).

Layout written under plugin-hunyuan15/src/test/resources/fixtures/pipeline/:
  tiny/{model_index.json, transformer/, vae/, scheduler/}    the pipeline root
  tiny-meanflow/{...}                                         same with use_meanflow=True (step-distilled I2V)
  image.png                                                   the I2V input, already at its bucket size
  t2v_cfg.safetensors   embeddings (diffusers argument names) + latents + video; guidance 6, seed 42
  i2v_cfg.safetensors   embeddings + image_embeds + latents + video; guidance 6, seed 7
  i2v_meanflow.safetensors  embeddings + image_embeds + latents; guidance 1 (one pass), seed 3

I2V notes: the tiny pipeline has no SigLIP encoder, so encode_image is replaced by a function that
returns the precomputed `image_embeds` stored in the case file (the Java test passes them the same
way). image.png is 64x64, which is exactly the bucket calculate_default_height_width picks for a square
image at target_size 64, so diffusers' resize-and-crop leaves it unchanged (PIL returns a copy for an
equal size) and both sides VAE-encode the same pixels.

Run from the repository root: PYTHONPATH=/tmp/diffusers/src:tools/reference python3 tools/reference/gen_pipeline.py
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from diffusers import (AutoencoderKLHunyuanVideo15, ClassifierFreeGuidance, FlowMatchEulerDiscreteScheduler,
                       HunyuanVideo15ImageToVideoPipeline, HunyuanVideo15Pipeline)

import gen_transformer
import gen_vae

SHIFT = 5.0
HEIGHT = WIDTH = 64
FRAMES = 5
STEPS = 3


def save_pipeline(transformer, vae, folder, byt5_width):
    gen_transformer.save_model(transformer, folder, byt5_width=byt5_width, pipeline_root=True)
    gen_vae.save_model(vae, gen_vae.CONFIG_A, os.path.join(folder, "vae"))
    scheduler = FlowMatchEulerDiscreteScheduler(shift=SHIFT)
    scheduler.save_config(os.path.join(folder, "scheduler"))
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump({"_class_name": "HunyuanVideo15Pipeline", "_diffusers_version": "0.36.0",
                   "transformer": ["diffusers", "HunyuanVideo15Transformer3DModel"],
                   "vae": ["diffusers", "AutoencoderKLHunyuanVideo15"],
                   "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}, f, indent=2)
    return scheduler


def embeddings(config, seed, qwen=(9, 6), byt5=(5, 2), negative_qwen=(9, 1)):
    """prompt_embeds (B, L, D) with masks (B, L) as diffusers names them; negative: short mask, no glyph."""
    g = torch.Generator().manual_seed(seed)
    d1, d2 = config["text_embed_dim"], config["text_embed_2_dim"]

    def mask(length, valid):
        m = torch.zeros(1, length, dtype=torch.int64)
        m[:, :valid] = 1
        return m

    return {
        "prompt_embeds": torch.randn(1, qwen[0], d1, generator=g), "prompt_embeds_mask": mask(*qwen),
        "prompt_embeds_2": torch.randn(1, byt5[0], d2, generator=g), "prompt_embeds_mask_2": mask(*byt5),
        "negative_prompt_embeds": torch.randn(1, negative_qwen[0], d1, generator=g),
        "negative_prompt_embeds_mask": mask(*negative_qwen),
        "negative_prompt_embeds_2": torch.zeros(1, byt5[0], d2), "negative_prompt_embeds_mask_2": mask(byt5[0], 0),
    }


def decode(vae, latents):
    with torch.no_grad():
        video = vae.decode(latents / vae.config.scaling_factor, return_dict=False)[0]
    return (video * 0.5 + 0.5).clamp(0, 1)


def save_case(path, inputs, latents, video, description):
    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors["latents"] = latents.contiguous()
    if video is not None:
        tensors["video"] = video.contiguous()
    save_file(tensors, path, metadata={"case": description})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="plugin-hunyuan15/src/test/resources/fixtures/pipeline")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)

    config = dict(gen_transformer.TINY, target_size=64)
    transformer = gen_transformer.make_model(config, seed=20, byt5_width=32)
    vae = gen_vae.make_vae(gen_vae.CONFIG_A, seed=21)
    tiny = os.path.join(args.out, "tiny")
    scheduler = save_pipeline(transformer, vae, tiny, byt5_width=32)

    # T2V, CFG on.
    pipe = HunyuanVideo15Pipeline(text_encoder=None, tokenizer=None, transformer=transformer, vae=vae,
                                  scheduler=scheduler, text_encoder_2=None, tokenizer_2=None,
                                  guider=ClassifierFreeGuidance(guidance_scale=6.0))
    emb = embeddings(config, 30)
    with torch.no_grad():
        latents = pipe(prompt_embeds=emb["prompt_embeds"], **{k: v for k, v in emb.items() if k != "prompt_embeds"},
                       height=HEIGHT, width=WIDTH, num_frames=FRAMES, num_inference_steps=STEPS,
                       generator=torch.Generator().manual_seed(42), output_type="latent", return_dict=False)[0]
    save_case(os.path.join(args.out, "t2v_cfg.safetensors"), emb, latents, decode(vae, latents),
              f"T2V {HEIGHT}x{WIDTH}x{FRAMES}, {STEPS} steps, guidance 6, shift {SHIFT}, seed 42")

    # I2V input image, already at its bucket size.
    rng = np.random.default_rng(5)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    pixels = np.stack([xs * 4, ys * 4, (xs + ys) * 2], axis=-1) + rng.integers(0, 40, (HEIGHT, WIDTH, 3))
    image_path = os.path.join(args.out, "image.png")
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(image_path)
    image = Image.open(image_path).convert("RGB")

    def run_i2v(model, guidance, seed, emb_seed):
        p = HunyuanVideo15ImageToVideoPipeline(text_encoder=None, tokenizer=None, transformer=model, vae=vae,
                                               scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT),
                                               text_encoder_2=None, tokenizer_2=None,
                                               guider=ClassifierFreeGuidance(guidance_scale=guidance),
                                               image_encoder=None, feature_extractor=None)
        e = embeddings(config, emb_seed)
        e["image_embeds"] = torch.randn(1, 9, config["image_embed_dim"], generator=torch.Generator().manual_seed(emb_seed + 1))
        p.encode_image = lambda image, batch_size, device, dtype: e["image_embeds"].repeat(batch_size, 1, 1).to(device, dtype)
        with torch.no_grad():
            out = p(image=image, prompt_embeds=e["prompt_embeds"],
                    **{k: v for k, v in e.items() if k not in ("prompt_embeds", "image_embeds")},
                    num_frames=FRAMES, num_inference_steps=STEPS, generator=torch.Generator().manual_seed(seed),
                    output_type="latent", return_dict=False)[0]
        return e, out

    emb, latents = run_i2v(transformer, 6.0, 7, 31)
    save_case(os.path.join(args.out, "i2v_cfg.safetensors"), emb, latents, decode(vae, latents),
              f"I2V from image.png, {FRAMES} frames, {STEPS} steps, guidance 6, shift {SHIFT}, seed 7")

    meanflow_config = dict(config, use_meanflow=True)
    meanflow = gen_transformer.make_model(meanflow_config, seed=22, byt5_width=32)
    save_pipeline(meanflow, vae, os.path.join(args.out, "tiny-meanflow"), byt5_width=32)
    emb, latents = run_i2v(meanflow, 1.0, 3, 32)
    save_case(os.path.join(args.out, "i2v_meanflow.safetensors"), emb, latents, None,
              f"meanflow I2V from image.png, {FRAMES} frames, {STEPS} steps, guidance 1, shift {SHIFT}, seed 3")


if __name__ == "__main__":
    main()
