#!/usr/bin/env python3
"""Drives a running `diffuse serve` with the official OpenAI Python SDK (pip install openai):
videos.create -> poll -> download_content, as docs/serving.md shows. Exits non-zero on any failure.

usage: openai_sdk_check.py BASE_URL [API_KEY] [OUTPUT.mp4]
"""
import sys

from openai import OpenAI

base = sys.argv[1].rstrip("/")
key = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else "none"
out = sys.argv[3] if len(sys.argv) > 3 else "sdk-video.mp4"
client = OpenAI(base_url=base + "/v1", api_key=key)

video = client.videos.create(
    model="builtin:demo",
    prompt="A cat walks on the grass, realistic",
    size="64x64",
    seconds="1",
    # diffuse / vllm-omni extensions travel as extra form fields
    extra_body={"num_inference_steps": 4, "seed": 42, "parallel": {"ulysses": 2}},
)
print("created", video.id, video.status)
video = client.videos.poll(video.id, poll_interval_ms=200)
print("ended", video.id, video.status, video.progress)
if video.status != "completed":
    sys.exit(f"job {video.id} {video.status}: {video.error}")
again = client.videos.retrieve(video.id)
assert again.id == video.id and again.status == "completed", again
content = client.videos.download_content(video.id)
content.write_to_file(out)
data = open(out, "rb").read()
assert data[4:8] == b"ftyp", "not an MP4"
listed = [v.id for v in client.videos.list(limit=10)]
assert video.id in listed, listed
print(f"ok: {out} ({len(data)} bytes), listed among {len(listed)} jobs")
