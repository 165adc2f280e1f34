#!/usr/bin/env python3
"""Writes a random-weight HunyuanVideo 1.5 checkpoint at the released size, in diffusers layout, with
diffusers' own classes and configuration, without holding the model in memory.

  write_random_checkpoint.py --out DIR [--num-layers N] [--shard-gb 4] [--vae-dtype fp32|bf16] [--no-vae]

DIR (outside the repository) becomes a pipeline root: model_index.json, transformer/ (8.33 B parameters,
bf16, shards of about --shard-gb GB with diffusion_pytorch_model.safetensors.index.json) and vae/
(1.26 B parameters, the released fp32 by default), about 17 GB at the released size + 5 GB for an fp32
VAE: check `df` first. --num-layers N writes a smaller transformer (the released one has 54 blocks).

How: the model is built on the meta device (keys, shapes and config, no memory), then random tensors are
made and written one shard at a time, so resident memory stays near one shard (about --shard-gb GB).
Values: weights of fan-in f ~ N(0, 1/f); 1-D norm weights 1, other 1-D tensors (biases) N(0, 0.02).
Deterministic for a given seed. Needs a diffusers checkout's src/ on PYTHONPATH (tools/reference/README.md).
"""
import argparse
import json
import os
import time

import torch
from safetensors.torch import save_file

from diffusers import AutoencoderKLHunyuanVideo15, HunyuanVideo15Transformer3DModel

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
WEIGHTS = "diffusion_pytorch_model"


def random_tensor(name, shape, dtype, generator):
    if len(shape) == 1:
        if "norm" in name and name.endswith("weight"):
            return torch.ones(shape, dtype=dtype)
        return (0.02 * torch.randn(shape, generator=generator)).to(dtype)
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    return (torch.randn(shape, generator=generator) / fan_in ** 0.5).to(dtype)


def write_component(model_class, kwargs, folder, dtype, shard_bytes, seed):
    with torch.device("meta"):
        model = model_class(**kwargs)
    os.makedirs(folder, exist_ok=True)
    model.save_config(folder)  # diffusers' config.json (class name, version, every argument)
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    del model
    element = torch.tensor([], dtype=dtype).element_size()
    shards, current, size = [], [], 0
    for key, shape in shapes:
        n = element
        for s in shape:
            n *= s
        if current and size + n > shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append((key, shape))
        size += n
    shards.append(current)
    generator = torch.Generator().manual_seed(seed)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        name = f"{WEIGHTS}-{i + 1:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1 else f"{WEIGHTS}.safetensors"
        tensors = {k: random_tensor(k, s, dtype, generator) for k, s in shard}
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        tmp = os.path.join(folder, name + ".tmp")
        save_file(tensors, tmp, metadata={"format": "pt"})
        os.replace(tmp, os.path.join(folder, name))  # replace by rename: readers may map the old file
        del tensors
        weight_map.update({k: name for k, _ in shard})
        print(f"  {folder}/{name}: {len(shard)} tensors", flush=True)
    if len(shards) > 1:
        with open(os.path.join(folder, f"{WEIGHTS}.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    params = total // element
    print(f"{model_class.__name__}: {params / 1e9:.3f} B parameters, {total / 1e9:.2f} GB in {len(shards)} file(s)",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--num-layers", type=int, default=None, help="transformer blocks (released: 54)")
    ap.add_argument("--shard-gb", type=float, default=4.0)
    ap.add_argument("--vae-dtype", choices=sorted(DTYPES), default="fp32")
    ap.add_argument("--no-vae", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if out == repo or out.startswith(repo + os.sep):
        raise SystemExit(f"--out {out} is inside the repository {repo}: write the checkpoint elsewhere")
    shard_bytes = int(args.shard_gb * 1e9)
    started = time.time()
    transformer = {} if args.num_layers is None else {"num_layers": args.num_layers}
    write_component(HunyuanVideo15Transformer3DModel, transformer, os.path.join(out, "transformer"),
                    torch.bfloat16, shard_bytes, args.seed)
    index = {"_class_name": "HunyuanVideo15Pipeline",
             "transformer": ["diffusers", "HunyuanVideo15Transformer3DModel"]}
    if not args.no_vae:
        write_component(AutoencoderKLHunyuanVideo15, {}, os.path.join(out, "vae"), DTYPES[args.vae_dtype],
                        shard_bytes, args.seed + 1)
        index["vae"] = ["diffusers", "AutoencoderKLHunyuanVideo15"]
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
    print(f"written in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
