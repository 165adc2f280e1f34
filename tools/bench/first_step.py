#!/usr/bin/env python3
"""Usage: tools/bench/first_step.py BIN_DIFFUSE NPROC. One `diffuse generate` run: wall time to the first completed denoising step (stderr '] 1/N' of denoise),
wall time until the launcher spawned its ranks, and CPU seconds (user+sys) used by the process tree
until the first step (load-insensitive: the work start-up costs)."""
import os, re, subprocess, sys, time
diffuse = sys.argv[1]; nproc = int(sys.argv[2])
pat = re.compile(rb"denoise \[[# ]*\] 1/")
tick = os.sysconf("SC_CLK_TCK")

def own_cpu(pid):
    s = open(f"/proc/{pid}/stat").read()
    rest = s[s.rfind(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / tick

def tree_cpu(root):
    children = {}
    stats = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        ppid = int(rest[1]); ut = int(rest[11]); st = int(rest[12])
        children.setdefault(ppid, []).append(int(d)); stats[int(d)] = ut + st
    total = 0; todo = [root]
    while todo:
        p = todo.pop(); total += stats.get(p, 0); todo.extend(children.get(p, []))
    return total / tick

out = f"/tmp/diffuse-first-step-{os.getpid()}.mp4"
cmd = [diffuse, "generate", "--prompt", "x", "--nproc", str(nproc), "--num-inference-steps", "2", "--output", out]
load = os.getloadavg()[0]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
buf = b""; first = None; spawned = None; cpu = None; launcher_cpu = 0.0
while True:
    chunk = os.read(p.stderr.fileno(), 4096)
    if not chunk:
        break
    buf += chunk
    if spawned is None and b"[launcher] rank 0 started" in buf:
        spawned = time.monotonic() - t0
        launcher_cpu = own_cpu(p.pid)
    if first is None and pat.search(buf):
        first = time.monotonic() - t0
        cpu = tree_cpu(p.pid)
p.wait()
if os.path.exists(out):
    os.remove(out)
if first is None or p.returncode != 0:
    print("run failed", p.returncode, buf.decode(errors="replace")[-2000:], file=sys.stderr)
    sys.exit(1)
print(f"nproc={nproc} first_step_s={first:.2f} ranks_spawned_s={(spawned or 0):.2f} launcher_cpu_at_spawn_s={launcher_cpu:.2f} cpu_s={cpu:.2f} load={load:.1f}", flush=True)
