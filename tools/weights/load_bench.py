#!/usr/bin/env python3
"""Load + first forward of the transformer: diffusers `from_pretrained` against `diffuse run-component`,
each in its own process, one after the other, on a checkpoint from write_random_checkpoint.py.

  load_bench.py --model DIR [--diffuse distribution/target/diffuse/bin/diffuse] [--threads 2] [--dtypes bf16,fp32]
                [--diffuse-args '--nproc 2 --ulysses 2'] [--only-diffuse]

For each dtype (bf16: the file's own dtype, Diffuse maps it zero-copy; fp32: converted from the bf16
file) it reports the wall time from process start to exit (load + first forward on a small input,
48 tokens), the load throughput (checkpoint bytes / that time: a lower bound), and the peak RssAnon and
RssFile of the process and its children, sampled from /proc every 20 ms (the kernel keeps no per-kind
peak), with Pss_File (file pages shared by several ranks count once in the sum). diffusers' own load and forward times are printed too. Needs diffusers' src/ on PYTHONPATH.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def checkpoint_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".safetensors"))


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                    out[line.split(":")[0]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        # Proportional file pages: a page mapped by two ranks counts half in each, so the sum over ranks
        # is what the host holds.
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss_File:"):
                    out["Pss_File"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def descendants(pid):
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = []
        try:
            # Every thread's children: the JVM starts rank processes from threads other than main.
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children += f.read().split()
        except OSError:
            pass
        for c in map(int, children):
            if c not in found:
                found.add(c)
                frontier.append(c)
    return found


def measure(cmd, env=None):
    """Runs cmd; returns (seconds, peak RssAnon, peak RssFile, peak Pss_File, stdout) summed over its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    peak_anon = peak_file = peak_pss_file = 0
    out_chunks = []
    import threading
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))
    reader.start()
    while proc.poll() is None:
        total = {"RssAnon": 0, "RssFile": 0, "Pss_File": 0}
        for p in descendants(proc.pid):
            s = status(p)
            for k in total:
                total[k] += s.get(k, 0)
        peak_anon = max(peak_anon, total["RssAnon"])
        peak_file = max(peak_file, total["RssFile"])
        peak_pss_file = max(peak_pss_file, total["Pss_File"])
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    reader.join()
    output = "".join(out_chunks)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output}")
    return seconds, peak_anon, peak_file, peak_pss_file, output


DIFFUSERS_CHILD = r'''
import sys, time, torch
from safetensors.torch import load_file
from diffusers import HunyuanVideo15Transformer3DModel
model_dir, inputs, dtype, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)
dt = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
t0 = time.perf_counter()
model = HunyuanVideo15Transformer3DModel.from_pretrained(model_dir, subfolder="transformer", torch_dtype=dt).eval()
t1 = time.perf_counter()
x = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in load_file(inputs).items()}
with torch.no_grad():
    model(**x, return_dict=False)
t2 = time.perf_counter()
print(f"diffusers load {t1 - t0:.2f} s, first forward {t2 - t1:.2f} s")
'''

INPUTS_CHILD = r'''
import sys, json, torch
from safetensors.torch import save_file
cfg = json.load(open(sys.argv[1]))
g = torch.Generator().manual_seed(1)
t, h, w, qwen, byt5, image = 1, 4, 4, 16, 8, 8  # 16 video + 16 + 8 + 8 text/image = 48 tokens
save_file({
    "hidden_states": torch.randn(1, cfg["in_channels"], t, h, w, generator=g),
    "timestep": torch.tensor([937.5]),
    "encoder_hidden_states": torch.randn(1, qwen, cfg["text_embed_dim"], generator=g),
    "encoder_attention_mask": torch.ones(1, qwen, dtype=torch.long),
    "encoder_hidden_states_2": torch.randn(1, byt5, cfg["text_embed_2_dim"], generator=g),
    "encoder_attention_mask_2": torch.ones(1, byt5, dtype=torch.long),
    "image_embeds": torch.randn(1, image, cfg["image_embed_dim"], generator=g),
}, sys.argv[2])
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="pipeline root written by write_random_checkpoint.py")
    ap.add_argument("--diffuse", default="distribution/target/diffuse/bin/diffuse")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtypes", default="bf16,fp32")
    ap.add_argument("--diffuse-args", default="", help="extra run-component arguments, e.g. '--nproc 2 --ulysses 2'")
    ap.add_argument("--only-diffuse", action="store_true")
    args = ap.parse_args()
    folder = os.path.join(args.model, "transformer")
    size = checkpoint_bytes(folder)
    work = tempfile.mkdtemp(prefix="diffuse-load-bench-")
    inputs = os.path.join(work, "inputs.safetensors")
    subprocess.run([sys.executable, "-c", INPUTS_CHILD, os.path.join(folder, "config.json"), inputs], check=True)
    print(f"checkpoint {folder}: {size / 1e9:.2f} GB; {args.threads} threads; load {os.getloadavg()[0]:.2f}")
    print("| engine | dtype | load + first forward s | GB/s (bytes / that time) | peak RssAnon GiB | peak RssFile GiB "
          "| peak Pss_File GiB |")
    print("|---|---|---|---|---|---|---|")
    for dtype in args.dtypes.split(","):
        runs = [
            ("diffusers", [sys.executable, "-c", DIFFUSERS_CHILD, args.model, inputs, dtype, str(args.threads)]),
            ("Diffuse", [args.diffuse, "run-component", "transformer", "--model", args.model, "--inputs", inputs,
                         "--output", os.path.join(work, f"out-{dtype}.safetensors"), "--dtype", dtype,
                         "--threads", str(args.threads)] + args.diffuse_args.split()),
        ]
        if args.only_diffuse:
            runs = runs[1:]
        for engine, cmd in runs:
            seconds, anon, file_pages, pss_file, output = measure(cmd)
            label = f"{engine} {args.diffuse_args}".strip() if engine == "Diffuse" else engine
            print(f"| {label} | {dtype} | {seconds:.2f} | {size / 1e9 / seconds:.2f} | {anon / 2**30:.2f} "
                  f"| {file_pages / 2**30:.2f} | {pss_file / 2**30:.2f} |", flush=True)
            for line in output.splitlines():
                if line.startswith("diffusers load"):
                    print(f"  ({line})")


if __name__ == "__main__":
    main()
