#!/usr/bin/env python3
"""Golden fixtures for the Java port of diffusers' AutoencoderKLHunyuanVideo15.

Runs diffusers itself (put a diffusers checkout's src/ on PYTHONPATH; nothing of diffusers is copied
here) on tiny random-weight VAEs and writes, under OUT (default:
plugin-hunyuan15/src/test/resources/fixtures):

  vae/model/{config.json, diffusion_pytorch_model.safetensors}   tiny VAE "A", a vae component folder
  vae/<case>.safetensors                                         inputs and diffusers' outputs
  vae-unseen/{model_index.json, vae/...}                         tiny VAE "B" (other seed and channels)
  vae-unseen/<case>.safetensors                                  as a pipeline root, for run-component

Weights are rounded to bf16 and stored as bf16 (small files); all computation is fp32 on CPU, so a
fp32 port loading the bf16 weights sees exactly the same numbers. Every case file holds the input
(`sample` or `latent`), diffusers' output under the other name, and for encodes also `moments`.
Tiling settings are stored in the case file's metadata (tile_sample_size, tile_overlap).
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

from diffusers import AutoencoderKLHunyuanVideo15

# Tiny VAE "A": the released 5-level structure (levels 0-1 spatial, 2-3 spatial + temporal, 4 none)
# at 1/32 of the channels (reference spec 5.2 with channels halved again to keep the file small).
CONFIG_A = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[4, 8, 16, 32, 32],
                layers_per_block=2, spatial_compression_ratio=16, temporal_compression_ratio=4,
                downsample_match_channel=True, upsample_match_channel=True, scaling_factor=1.03682)
# Tiny VAE "B": another seed, other channels, one resnet per level; used only by the "never seen" test.
CONFIG_B = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[8, 8, 16, 16, 16],
                layers_per_block=1, spatial_compression_ratio=16, temporal_compression_ratio=4,
                downsample_match_channel=True, upsample_match_channel=True, scaling_factor=1.03682)


def make_vae(config, seed):
    torch.manual_seed(seed)
    vae = AutoencoderKLHunyuanVideo15(**config).eval()
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.2 * torch.randn_like(p))  # exercise the RMS-norm gain
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            p.copy_(p.bfloat16().float())  # weights exactly representable in bf16
    return vae


def save_model(vae, config, folder):
    os.makedirs(folder, exist_ok=True)
    cfg = dict(config)
    cfg["_class_name"] = "AutoencoderKLHunyuanVideo15"
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_file({k: v.detach().bfloat16().contiguous() for k, v in vae.state_dict().items()},
              os.path.join(folder, "diffusion_pytorch_model.safetensors"))


def set_tiling(vae, tile, overlap):
    if tile is None:
        vae.use_tiling = False
        return
    # Both sample and latent sizes: diffusers keeps latent tiles at 16 otherwise (spec 2.5 pitfall).
    vae.enable_tiling(tile_sample_min_height=tile, tile_sample_min_width=tile,
                      tile_latent_min_height=tile // 16, tile_latent_min_width=tile // 16,
                      tile_overlap_factor=overlap)


def encode_case(vae, path, shape, seed, tile=None, overlap=None):
    g = torch.Generator().manual_seed(seed)
    sample = torch.rand(shape, generator=g) * 2 - 1
    set_tiling(vae, tile, overlap)
    with torch.no_grad():
        posterior = vae.encode(sample).latent_dist
        latent = posterior.mode()
    save_case(path, {"sample": sample, "latent": latent, "moments": posterior.parameters}, tile, overlap)
    return latent


def decode_case(vae, path, shape, seed, tile=None, overlap=None):
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(shape, generator=g)
    set_tiling(vae, tile, overlap)
    with torch.no_grad():
        sample = vae.decode(latent).sample
    save_case(path, {"latent": latent, "sample": sample}, tile, overlap)


def save_case(path, tensors, tile, overlap):
    meta = {"tile_sample_size": str(tile or 0), "tile_overlap": str(overlap or 0.0)}
    save_file({k: v.detach().float().clone().contiguous() for k, v in tensors.items()}, path, metadata=meta)
    print(path, {k: tuple(v.shape) for k, v in tensors.items()}, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="plugin-hunyuan15/src/test/resources/fixtures")
    args = ap.parse_args()
    torch.set_num_threads(2)

    a_dir = os.path.join(args.out, "vae")
    vae = make_vae(CONFIG_A, seed=1234)
    save_model(vae, CONFIG_A, os.path.join(a_dir, "model"))
    encode_case(vae, os.path.join(a_dir, "encode.safetensors"), (1, 3, 9, 48, 48), seed=1)
    decode_case(vae, os.path.join(a_dir, "decode.safetensors"), (1, 4, 3, 3, 3), seed=2)
    encode_case(vae, os.path.join(a_dir, "encode_image.safetensors"), (1, 3, 1, 32, 32), seed=3)
    decode_case(vae, os.path.join(a_dir, "decode_image.safetensors"), (1, 4, 1, 2, 2), seed=4)
    # Tiling A: 64 px tiles, overlap 0.25 (encode stride 48 px, blend 1 latent; decode stride 3
    # latents, blend 16 px). 80 x 112 px: 2 x 3 tiles with short edge tiles.
    encode_case(vae, os.path.join(a_dir, "encode_tiled_64_0.25.safetensors"), (1, 3, 5, 80, 112), seed=5,
                tile=64, overlap=0.25)
    decode_case(vae, os.path.join(a_dir, "decode_tiled_64_0.25.safetensors"), (1, 4, 2, 5, 7), seed=6,
                tile=64, overlap=0.25)
    # Tiling B: 32 px tiles, overlap 0.5 (stride 16 px / 1 latent, blend 1 latent / 16 px): many tiles,
    # edge tiles no larger than the blend, only one axis exceeding a tile in the decode case.
    encode_case(vae, os.path.join(a_dir, "encode_tiled_32_0.5.safetensors"), (1, 3, 5, 48, 64), seed=7,
                tile=32, overlap=0.5)
    decode_case(vae, os.path.join(a_dir, "decode_tiled_32_0.5.safetensors"), (1, 4, 2, 2, 4), seed=8,
                tile=32, overlap=0.5)

    b_dir = os.path.join(args.out, "vae-unseen")
    vae_b = make_vae(CONFIG_B, seed=98765)
    save_model(vae_b, CONFIG_B, os.path.join(b_dir, "vae"))
    with open(os.path.join(b_dir, "model_index.json"), "w") as f:
        json.dump({"_class_name": "HunyuanVideo15Pipeline",
                   "vae": ["diffusers", "AutoencoderKLHunyuanVideo15"]}, f, indent=2)
    encode_case(vae_b, os.path.join(b_dir, "encode.safetensors"), (1, 3, 5, 32, 48), seed=11)
    decode_case(vae_b, os.path.join(b_dir, "decode.safetensors"), (1, 4, 2, 2, 3), seed=12)
    encode_case(vae_b, os.path.join(b_dir, "encode_tiled_32_0.5.safetensors"), (1, 3, 5, 32, 48), seed=13,
                tile=32, overlap=0.5)
    decode_case(vae_b, os.path.join(b_dir, "decode_tiled_32_0.5.safetensors"), (1, 4, 2, 2, 3), seed=14,
                tile=32, overlap=0.5)


if __name__ == "__main__":
    main()
