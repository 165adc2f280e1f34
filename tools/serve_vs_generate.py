#!/usr/bin/env python3
"""Cost per request of the demo through `diffuse serve` against one-shot `diffuse generate`, same
machine, same run (docs/benchmarks.md). Time to first step = from the request (or the command's start)
until denoising step 1 is done; end-to-end = until the MP4 is written (generate: the process exits).

usage: serve_vs_generate.py DIST_DIR [REPEATS]
"""
import json, os, re, subprocess, sys, tempfile, time, urllib.request

dist = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
diffuse = os.path.join(dist, "bin", "diffuse")
req = {"prompt": "a cat walks on the grass", "size": "64x64", "num_frames": 5, "num_inference_steps": 8, "seed": 7}
env = {k: v for k, v in os.environ.items() if not k.startswith("DIFFUSE_")}
tmp = tempfile.mkdtemp(prefix="serve-bench-")
env["JAVA_OPTS"] = f"-Djava.io.tmpdir={tmp} -Dio.diffuse.deploy={tmp}/deploy"
os.makedirs(f"{tmp}/deploy", exist_ok=True)

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]

gen_first, gen_total = [], []
for i in range(repeats):
    start = time.monotonic()
    p = subprocess.Popen([diffuse, "generate", "--prompt", req["prompt"], "--width", "64", "--height", "64",
                          "--num-frames", "5", "--num-inference-steps", "8", "--seed", "7", "--threads", "1",
                          "--output", f"{tmp}/gen{i}.mp4"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    first = None
    buf = b""
    while True:
        c = p.stderr.read(1)
        if not c:
            break
        buf += c
        if first is None and re.search(rb"denoise \[#*\s*\] 1/", buf):
            first = time.monotonic() - start
    p.wait()
    assert p.returncode == 0, buf.decode()[-2000:]
    gen_first.append(first)
    gen_total.append(time.monotonic() - start)

srv = subprocess.Popen([diffuse, "serve", "--port", "0", "--threads", "1", "--output-dir", f"{tmp}/videos"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
start = time.monotonic()
base = None
for line in srv.stdout:
    m = re.search(r"listening on (http://\S+)", line)
    if m:
        base = m.group(1)
    if "diffuse serve: ready" in line:
        break
ready = time.monotonic() - start

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(r))

srv_first, srv_total = [], []
for i in range(repeats + 1):
    t0 = time.monotonic()
    job = call("POST", "/v1/videos", req)
    first = None
    while job["status"] not in ("completed", "failed"):
        if first is None and job["step"] >= 1:
            first = time.monotonic() - t0
        time.sleep(0.01)
        job = call("GET", "/v1/videos/" + job["id"])
    assert job["status"] == "completed", job
    if i > 0:  # the first request warms the JIT up
        srv_first.append(first if first is not None else time.monotonic() - t0)
        srv_total.append(time.monotonic() - t0)
srv.terminate()
srv.wait()
print(f"generate (one-shot, 2 ranks): time to first step {median(gen_first):.2f} s, end to end {median(gen_total):.2f} s"
      f" (median of {repeats})")
print(f"serve (warm, 2 ranks):        time to first step {median(srv_first):.2f} s, end to end {median(srv_total):.2f} s"
      f" (median of {repeats}); server ready after {ready:.1f} s")
print(f"ratio end to end: {median(gen_total) / median(srv_total):.1f}x")
