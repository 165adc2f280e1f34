#!/usr/bin/env python3
"""Projected sequence-parallel communication per denoising step for HunyuanVideo 1.5 (docs/benchmarks.md).

Takes the bytes per forward per rank that `diffuse bench` measured at the mid-size configuration, splits
them into the video part (all-to-all / send-recv, scales with N*h*b and the group sizes) and the joint part
(text tokens, scales with M*h*b), checks the video part against the analytic volume, and scales both
analytically to the released model: 54 layers, h = 16 x 128, bf16 (b = 2), 8 ranks, two forwards per step
(classifier-free guidance without cfg parallelism).

  python3 tools/bench/usp_projection.py --ulysses-a2a 33554432 --ring-send 33554432
"""
import argparse

MID = dict(n=2048, m=1049, heads=4, d=128, b=4, layers=8, p=2)
FULL = dict(heads=16, d=128, b=2, layers=54)
CASES = {"480p (848x480, 121 frames)": 49_290, "720p (1280x720, 121 frames)": 111_600}
LINKS = {"NVLink 4 (H100 SXM), 450 GB/s per direction": 450e9, "PCIe Gen4 x16, 25 GB/s effective": 25e9}
TEXT = 1_985  # joint tokens: Qwen 1000 + ByT5 256 + SigLIP 729, the most a request can have (upper bound)


def layer_bytes(n, m, heads, d, b, u, r):
    """Bytes one rank sends per attention layer under Ulysses u x Ring r (same formulas as the engine's accounting)."""
    h = heads * d
    shard = n / (u * r)
    video = 4 * shard * h * b * (u - 1) / u          # q, k, v, out all-to-alls over the Ulysses group
    video += 2 * (shard * u) * (h / u) * b * (r - 1)  # K/V around the ring, on H/u heads, N/r tokens per rank
    joint = m * (heads // u) * d * b * (u - 1)        # joint output all-gathered over heads (Ulysses)
    joint += (heads // u) * -(-m // r) * d * b * (r - 1)  # each ring rank's slice of ceil(M/r) joint outputs (Ring)
    return video, joint


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ulysses-a2a", type=int, required=True, help="measured all_to_all bytes sent / forward / rank, ulysses 2")
    ap.add_argument("--ring-send", type=int, required=True, help="measured send bytes / forward / rank, ring 2")
    args = ap.parse_args()
    mu, _ = layer_bytes(MID["n"], MID["m"], MID["heads"], MID["d"], MID["b"], 2, 1)
    mr, _ = layer_bytes(MID["n"], MID["m"], MID["heads"], MID["d"], MID["b"], 1, 2)
    cal_u = args.ulysses_a2a / MID["layers"] / mu
    cal_r = args.ring_send / MID["layers"] / mr
    print(f"mid-size check: ulysses 2 measured/analytic = {cal_u:.4f}, ring 2 measured/analytic = {cal_r:.4f}")
    print()
    print("| case | plan (8 GPUs) | video MB / layer / rank | joint MB / layer / rank | GB / step / rank | "
          + " | ".join(f"ms / step, {k}" for k in LINKS) + " |")
    print("|---|---|---|---|---|" + "---|" * len(LINKS))
    for case, n in CASES.items():
        for name, u, r in (("Ulysses 8", 8, 1), ("Ring 8", 1, 8), ("USP 4x2", 4, 2)):
            video, joint = layer_bytes(n, TEXT, FULL["heads"], FULL["d"], FULL["b"], u, r)
            # Calibrate the video part by what the engine measured (Ulysses part by the Ulysses run, Ring by the Ring run).
            vu, _ = layer_bytes(n, TEXT, FULL["heads"], FULL["d"], FULL["b"], u, 1)
            video = vu * cal_u + (video - vu) * cal_r
            step = (video + joint) * FULL["layers"] * 2
            times = " | ".join(f"{step / bw * 1e3:.0f}" for bw in LINKS.values())
            print(f"| {case} | {name} | {video / 1e6:.1f} | {joint / 1e6:.1f} | {step / 1e9:.2f} | {times} |")


if __name__ == "__main__":
    main()
