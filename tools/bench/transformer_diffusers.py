#!/usr/bin/env python3
"""diffusers side of the transformer benchmark (docs/benchmarks.md, "Transformer forward").

  make  --out DIR [--case full|padded]   builds a mid-size random HunyuanVideo15Transformer3DModel with
                                         diffusers' own class, saves it in diffusers layout (DIR/transformer,
                                         fp32) and the forward inputs (DIR/inputs.safetensors, named as
                                         diffusers' forward arguments)
  time  --out DIR --threads T            times diffusers' forward on those inputs the way `diffuse bench`
                                         does: warm-up forwards, then timed ones; median / mean / min

Mid-size configuration: 8 dual-stream blocks, 4 heads x 128 = 512 hidden (the released head dim and
RoPE axes (16, 56, 56)), 2 refiner blocks, the released text widths (Qwen 3584, ByT5 1472, SigLIP
1152), latent (4, 16, 32) = 2048 video tokens.
Cases:
  full    every text token real (I2V: Qwen 256, ByT5 64, SigLIP 729): both engines attend over the same
          3097 tokens, so the ratio compares the implementations
  padded  what the pipeline feeds T2V: Qwen padded to 1000 (256 real), ByT5 padded to 256 (64 real),
          SigLIP 729 zeros; diffusers attends over 4033 tokens with a mask, Diffuse drops the padding
          and attends over 2368
Needs a diffusers checkout's src/ on PYTHONPATH (see tools/reference/README.md); nothing is copied.
"""
import argparse
import json
import os
import statistics
import time

import torch
from safetensors.torch import load_file, save_file

from diffusers import HunyuanVideo15Transformer3DModel

MID = dict(in_channels=65, out_channels=32, num_attention_heads=4, attention_head_dim=128, num_layers=8,
           num_refiner_layers=2, mlp_ratio=4.0, patch_size=1, patch_size_t=1, qk_norm="rms_norm",
           text_embed_dim=3584, text_embed_2_dim=1472, image_embed_dim=1152, rope_theta=256.0,
           rope_axes_dim=[16, 56, 56], use_meanflow=False)
LATENT = (4, 16, 32)
CASES = {
    # (qwen total, qwen real), (byt5 total, byt5 real), siglip tokens, i2v
    "full": ((256, 256), (64, 64), 729, True),
    "padded": ((1000, 256), (256, 64), 729, False),
}


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def make(out, case, seed=0):
    torch.manual_seed(seed)
    model = HunyuanVideo15Transformer3DModel(**MID).eval()
    with torch.no_grad():
        for p in model.parameters():
            # diffusers zero-initialises some layers (e.g. gates); perturb so every path computes something.
            p.add_((0.02 if p.dim() > 1 else 0.1) * torch.randn_like(p))
    model.save_pretrained(os.path.join(out, "transformer"), safe_serialization=True)
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump({"_class_name": "HunyuanVideo15Pipeline",
                   "transformer": ["diffusers", "HunyuanVideo15Transformer3DModel"]}, f, indent=2)
    (qwen, qwen_real), (byt5, byt5_real), image, i2v = CASES[case]
    g = torch.Generator().manual_seed(seed + 1)
    t, h, w = LATENT
    inputs = {
        "hidden_states": torch.randn(1, MID["in_channels"], t, h, w, generator=g),
        "timestep": torch.tensor([937.5]),
        "encoder_hidden_states": torch.randn(1, qwen, MID["text_embed_dim"], generator=g),
        "encoder_attention_mask": (torch.arange(qwen) < qwen_real).long()[None],
        "encoder_hidden_states_2": torch.randn(1, byt5, MID["text_embed_2_dim"], generator=g),
        "encoder_attention_mask_2": (torch.arange(byt5) < byt5_real).long()[None],
        "image_embeds": torch.randn(1, image, MID["image_embed_dim"], generator=g) if i2v
        else torch.zeros(1, image, MID["image_embed_dim"]),
    }
    save_file({k: v.contiguous() for k, v in inputs.items()}, os.path.join(out, "inputs.safetensors"),
              metadata={"case": case})
    params = sum(p.numel() for p in model.parameters())
    print(f"mid-size model ({params / 1e6:.1f} M parameters) and '{case}' inputs in {out}: "
          f"{t * h * w} video tokens, text {qwen_real}/{qwen} + {byt5_real}/{byt5} + {image if i2v else 0}/{image}")


def time_forward(out, threads, warmup, iterations, rss_every):
    torch.set_num_threads(threads)
    model = HunyuanVideo15Transformer3DModel.from_pretrained(os.path.join(out, "transformer"),
                                                            torch_dtype=torch.float32).eval()
    inputs = load_file(os.path.join(out, "inputs.safetensors"))
    rss_before = status_kb("VmRSS")
    times = []
    with torch.no_grad():
        for i in range(warmup + iterations):
            t0 = time.perf_counter()
            model(**inputs, return_dict=False)
            dt = time.perf_counter() - t0
            if i >= warmup:
                times.append(dt)
            if rss_every and (i + 1) % rss_every == 0:
                print(f"rss after forward {i + 1}: {status_kb('VmRSS') / 1024:.1f} MiB ({dt:.2f} s)")
    rss_after = status_kb("VmRSS")
    print("| plan | dtype | median ms | mean ms | min ms | MB sent / fwd / rank | collectives / fwd "
          "| RSS rank 0 MiB before -> after | RSS all ranks MiB after |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| diffusers, 1 process x {threads} thread{'s' if threads > 1 else ''} | fp32 "
          f"| {statistics.median(times) * 1e3:.1f} | {statistics.mean(times) * 1e3:.1f} | {min(times) * 1e3:.1f} "
          f"| 0 | 0 | {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} | {rss_after / 1024:.0f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["make", "time"])
    ap.add_argument("--out", required=True, help="folder for the model and inputs (outside the repository)")
    ap.add_argument("--case", choices=sorted(CASES), default="full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--rss-every", type=int, default=0)
    args = ap.parse_args()
    if args.action == "make":
        torch.set_num_threads(args.threads)
        make(args.out, args.case)
    else:
        time_forward(args.out, args.threads, args.warmup, args.iterations, args.rss_every)


if __name__ == "__main__":
    main()
