#!/usr/bin/env python3
"""Golden fixtures for the Java port of diffusers' HunyuanVideo15ImageProcessor (I2V preprocessing).

Runs diffusers itself (put a diffusers checkout's src/ on PYTHONPATH; nothing of diffusers is copied
here) and Pillow on tiny seeded random images, and writes under OUT (default:
plugin-hunyuan15/src/test/resources/fixtures/image):

  <case>.png           the input image (lossless)
  <case>.expected.png  diffusers' resize(..., resize_mode="crop") output at its bucket (h, w)
  <case>.tensor.bin    preprocess(...) of that image: float32 little-endian, (1, 3, h, w)
  lanczos_<case>.png / lanczos_<case>.expected.png    plain PIL Image.resize(LANCZOS) cases
  cases.txt            one line per case: name kind in_w in_h target_size out_h out_w
  jpeg.jpg, jpeg.decoded.png   a JPEG and Pillow's decoding of it (javax.imageio's IDCT may differ)
  buckets.txt          calculate_default_height_width over many input sizes: in_h in_w target out_h out_w

Random noise is the hardest content for a resampler: every coefficient and rounding shows.
"""
import argparse
import os

import numpy as np
from PIL import Image

from diffusers.pipelines.hunyuan_video1_5.image_processor import HunyuanVideo15ImageProcessor


def noise(rng, w, h, mode="RGB"):
    if mode == "L":
        return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "plugin-hunyuan15", "src", "test", "resources", "fixtures", "image")
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=default_out)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20251124)
    # The pipeline's processor: do_resize=False, so preprocess only converts (the crop already sized it).
    proc = HunyuanVideo15ImageProcessor(vae_scale_factor=16, do_resize=False, do_convert_rgb=True)
    lines = []
    # (name, in_w, in_h, target_size, mode): downscale landscape/portrait, upscale, square, grayscale
    for name, w, h, target, mode in [
        ("land_down", 150, 83, 64, "RGB"),
        ("port_down", 61, 130, 64, "RGB"),
        ("upscale", 29, 17, 64, "RGB"),
        ("square", 40, 40, 48, "RGB"),
        ("wide", 200, 31, 64, "RGB"),
        ("gray", 90, 70, 64, "L"),
    ]:
        img = noise(rng, w, h, mode)
        img.save(os.path.join(out, name + ".png"))
        height, width = proc.calculate_default_height_width(height=img.size[1], width=img.size[0], target_size=target)
        cropped = proc.resize(img, height=height, width=width, resize_mode="crop")
        cropped.convert("RGB").save(os.path.join(out, name + ".expected.png"))
        tensor = proc.preprocess(cropped, height=height, width=width)
        assert tuple(tensor.shape) == (1, 3, height, width), tensor.shape
        tensor.float().numpy().astype("<f4").tofile(os.path.join(out, name + ".tensor.bin"))
        lines.append(f"{name} crop {w} {h} {target} {height} {width}")
    # Plain Lanczos resizes, one axis at a time and both, shrinking by non-integer factors and growing.
    for name, w, h, ow, oh in [("h_only", 33, 9, 14, 9), ("v_only", 7, 41, 7, 12), ("both", 45, 38, 17, 53),
                               ("tiny", 3, 2, 1, 5)]:
        img = noise(rng, w, h)
        img.save(os.path.join(out, "lanczos_" + name + ".png"))
        img.resize((ow, oh), resample=Image.LANCZOS).save(os.path.join(out, "lanczos_" + name + ".expected.png"))
        lines.append(f"lanczos_{name} lanczos {w} {h} 0 {oh} {ow}")
    # A smooth JPEG: noise would make decoder differences meaningless.
    yy, xx = np.mgrid[0:48, 0:64]
    smooth = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    Image.fromarray(smooth, "RGB").save(os.path.join(out, "jpeg.jpg"), quality=95)
    Image.open(os.path.join(out, "jpeg.jpg")).convert("RGB").save(os.path.join(out, "jpeg.decoded.png"))
    bucket_lines = []
    sizes = [(9, 16), (16, 9), (1, 1), (3, 4), (4, 3), (720, 1280), (1080, 1920), (1, 4), (4, 1), (1, 5), (5, 1)]
    sizes += [tuple(int(v) for v in rng.integers(16, 4000, 2)) for _ in range(60)]
    for target in (480, 640, 960, 1440):
        for h, w in sizes:
            oh, ow = proc.calculate_default_height_width(height=h, width=w, target_size=target)
            bucket_lines.append(f"{h} {w} {target} {oh} {ow}")
    with open(os.path.join(out, "buckets.txt"), "w") as f:
        f.write("\n".join(bucket_lines) + "\n")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
