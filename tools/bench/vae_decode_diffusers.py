#!/usr/bin/env python3
"""diffusers side of the VAE decode benchmark (see docs/benchmarks.md, "VAE").

Makes the input latent (seeded), decodes it with diffusers' AutoencoderKLHunyuanVideo15 (untiled,
fp32, CPU), and writes the latent and diffusers' output for the Java side. Prints the decode time
(best of --repeat after one warm-up) and the peak RSS growth during decoding (VmHWM after minus
VmRSS before the first decode). Needs a diffusers checkout's src/ on PYTHONPATH.
"""
import argparse
import time

import torch
from safetensors.torch import save_file

from diffusers import AutoencoderKLHunyuanVideo15


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="vae component folder")
    ap.add_argument("--shape", default="1,4,16,32,32", help="latent B,C,T,H,W")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", required=True, help="safetensors file for latent + diffusers sample")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shape = tuple(int(x) for x in args.shape.split(","))
    vae = AutoencoderKLHunyuanVideo15.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    latent = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    rss_before = status_kb("VmRSS")
    times = []
    with torch.no_grad():
        for i in range(1 + args.repeat):
            t0 = time.perf_counter()
            sample = vae.decode(latent).sample
            times.append(time.perf_counter() - t0)
    peak = status_kb("VmHWM")
    s = shape[2] * shape[3] * shape[4]
    print(f"diffusers decode latent {shape} (mid-block S={s}, S x S mask {s * s * 4 / 2**30:.2f} GiB): "
          f"warm-up {times[0]:.2f} s, best {min(times[1:] or times):.2f} s, "
          f"peak RSS growth {(peak - rss_before) / 2**20:.2f} GiB (VmHWM {peak / 2**20:.2f} GiB)")
    save_file({"latent": latent.contiguous(), "sample": sample.contiguous()}, args.out)


if __name__ == "__main__":
    main()
