"""A pipeline root for the step-cache benchmark (docs/benchmarks.md, tools/bench/cache_bench.sh).

The mid-size random transformer of transformer_diffusers.py (8 blocks, 512 hidden, released text
widths), a small random VAE with its 32 latent channels (gen_vae.py's structure, channels 8-64), the flow-match
scheduler (shift 5), and T2V prompt embeddings with negative ones (Qwen 64 real of 96, ByT5 16 of 32).

Usage (repository root): PYTHONPATH=/path/to/diffusers/src:tools/reference:tools/bench python3 tools/bench/cache_pipeline.py --out DIR
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

from diffusers import FlowMatchEulerDiscreteScheduler

import gen_vae
import transformer_diffusers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    transformer_diffusers.make(args.out, "padded")
    os.remove(os.path.join(args.out, "inputs.safetensors"))
    # diffusers' structure needs block_out_channels[-1] to be a multiple of 2 * latent_channels.
    vae_config = dict(gen_vae.CONFIG_A, latent_channels=32, block_out_channels=[8, 16, 32, 64, 64])
    gen_vae.save_model(gen_vae.make_vae(vae_config, seed=21), vae_config, os.path.join(args.out, "vae"))
    FlowMatchEulerDiscreteScheduler(shift=5.0).save_config(os.path.join(args.out, "scheduler"))
    with open(os.path.join(args.out, "model_index.json"), "w") as f:
        json.dump({"_class_name": "HunyuanVideo15Pipeline", "transformer": ["diffusers", "HunyuanVideo15Transformer3DModel"],
                   "vae": ["diffusers", "AutoencoderKLHunyuanVideo15"],
                   "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"]}, f, indent=2)
    g = torch.Generator().manual_seed(3)
    mid = transformer_diffusers.MID

    def mask(length, valid):
        return (torch.arange(length) < valid).long()[None]

    save_file({
        "prompt_embeds": torch.randn(1, 96, mid["text_embed_dim"], generator=g), "prompt_embeds_mask": mask(96, 64),
        "prompt_embeds_2": torch.randn(1, 32, mid["text_embed_2_dim"], generator=g), "prompt_embeds_mask_2": mask(32, 16),
        "negative_prompt_embeds": torch.randn(1, 96, mid["text_embed_dim"], generator=g),
        "negative_prompt_embeds_mask": mask(96, 8),
        "negative_prompt_embeds_2": torch.zeros(1, 32, mid["text_embed_2_dim"]), "negative_prompt_embeds_mask_2": mask(32, 0),
    }, os.path.join(args.out, "embeds.safetensors"))
    print(f"benchmark pipeline root in {args.out}")


if __name__ == "__main__":
    main()
