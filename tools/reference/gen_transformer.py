#!/usr/bin/env python3
"""Golden fixtures for the Java port of diffusers' HunyuanVideo15Transformer3DModel.

Runs diffusers itself (put a diffusers checkout's src/ on PYTHONPATH; nothing of diffusers is copied
here) on tiny random-weight transformers and writes, under OUT (default:
plugin-hunyuan15/src/test/resources/fixtures):

  transformer/tiny/{model_index.json, transformer/...}   spec 5.1 config (ByT5 width 2048), a pipeline root
  transformer/tiny/<case>.safetensors                    inputs (diffusers forward argument names) + `sample`
  transformer/meanflow/{config.json, weights}            use_meanflow=True, 3 blocks, ByT5 width 64, component folder
  transformer/meanflow/<case>.safetensors
  transformer/unseen/{model_index.json, transformer/...} another seed and shape; only the run-component test uses it
  transformer/unseen/<case>.safetensors
  transformer/released_shapes.txt                        key and shape of every tensor of the released 8.3B config

Weights are perturbed from diffusers' init (so every norm weight and bias matters), rounded to bf16
and stored as bf16; all computation is fp32 on CPU, so a fp32 port loading the bf16 weights sees
exactly the same numbers.

The ByT5 projection's hidden width is hard-coded to 2048 in diffusers. For the small models it is
replaced by diffusers' own HunyuanVideo15ByT5TextProjection built with a width of 64, and the width
is recorded in config.json as `byt5_projection_dim` (a key diffusers ignores) so that the Java port,
which reads it with 2048 as the default, builds the same module.
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

from diffusers import HunyuanVideo15Transformer3DModel
from diffusers.models.transformers.transformer_hunyuan_video15 import HunyuanVideo15ByT5TextProjection

TINY = dict(in_channels=9, out_channels=4, num_attention_heads=4, attention_head_dim=16, num_layers=2,
            num_refiner_layers=2, mlp_ratio=4.0, patch_size=1, patch_size_t=1, qk_norm="rms_norm",
            text_embed_dim=32, text_embed_2_dim=16, image_embed_dim=24, rope_theta=256.0,
            rope_axes_dim=[4, 6, 6], target_size=64, use_meanflow=False)
MEANFLOW = dict(TINY, num_layers=3, num_refiner_layers=1, use_meanflow=True)
UNSEEN = dict(TINY, num_attention_heads=2, attention_head_dim=24, rope_axes_dim=[8, 8, 8], num_layers=1,
              text_embed_dim=20, text_embed_2_dim=12, image_embed_dim=10, rope_theta=100.0)


def make_model(config, seed, byt5_width=None):
    torch.manual_seed(seed)
    model = HunyuanVideo15Transformer3DModel(**config).eval()
    if byt5_width is not None:
        inner = config["num_attention_heads"] * config["attention_head_dim"]
        model.context_embedder_2 = HunyuanVideo15ByT5TextProjection(config["text_embed_2_dim"], byt5_width, inner)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Perturb every parameter: unit norm weights, zero biases and zero-init layers would hide bugs.
            scale = 0.1 if p.dim() == 1 else 0.5 * float(p.std()) if p.numel() > 1 else 0.1
            p.add_(scale * torch.randn_like(p))
            p.copy_(p.bfloat16().float())  # weights exactly representable in bf16
    return model


def save_model(model, folder, byt5_width=None, pipeline_root=False):
    target = os.path.join(folder, "transformer") if pipeline_root else folder
    os.makedirs(target, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(target, safe_serialization=True)
    model.to(torch.float32)
    if byt5_width is not None:
        path = os.path.join(target, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["byt5_projection_dim"] = byt5_width
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
    if pipeline_root:
        with open(os.path.join(folder, "model_index.json"), "w") as f:
            json.dump({"_class_name": "HunyuanVideo15Pipeline",
                       "transformer": ["diffusers", "HunyuanVideo15Transformer3DModel"]}, f, indent=2)


def make_inputs(config, seed, latent=(3, 4, 4), qwen=(12, 7), byt5=(8, 3), image=9, i2v=False,
                byt5_zero=False, meanflow=False, timestep=937.5):
    g = torch.Generator().manual_seed(seed)
    c = config["in_channels"]
    t, h, w = latent
    inputs = {
        "hidden_states": torch.randn(1, c, t, h, w, generator=g),
        "timestep": torch.tensor([timestep], dtype=torch.float32),
        "encoder_hidden_states": torch.randn(1, qwen[0], config["text_embed_dim"], generator=g),
        "encoder_attention_mask": (torch.arange(qwen[0]) < qwen[1]).long()[None],
        "encoder_hidden_states_2": torch.randn(1, byt5[0], config["text_embed_2_dim"], generator=g),
        "encoder_attention_mask_2": (torch.arange(byt5[0]) < byt5[1]).long()[None],
        "image_embeds": torch.randn(1, image, config["image_embed_dim"], generator=g) if i2v
        else torch.zeros(1, image, config["image_embed_dim"]),
    }
    if byt5_zero:  # the pipeline's "no quoted text" input: zero embeddings, empty mask
        inputs["encoder_hidden_states_2"].zero_()
    if meanflow:
        inputs["timestep_r"] = torch.tensor([timestep - 62.5], dtype=torch.float32)
    return inputs


def run_case(model, inputs, path, description):
    with torch.no_grad():
        sample = model(**inputs, return_dict=False)[0]
    assert torch.isfinite(sample).all(), path
    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors["sample"] = sample.contiguous()
    save_file(tensors, path, metadata={"case": description})
    print(f"{path}: sample {tuple(sample.shape)} max |x| {sample.abs().max():.3f}")


def write_released_shapes(path):
    """Key and shape of every tensor of the released 8.3B configuration (and its meanflow variant),
    from a model built on the meta device (no weights allocated)."""
    lines = []
    for name, kwargs in (("released", {}), ("released_meanflow", {"use_meanflow": True})):
        with torch.device("meta"):
            model = HunyuanVideo15Transformer3DModel(**kwargs)
        sd = model.state_dict()
        lines.append(f"# {name} tensors={len(sd)} parameters={sum(v.numel() for v in sd.values())}")
        lines += [f"{name} {k} {','.join(str(d) for d in v.shape)}" for k, v in sorted(sd.items())]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {len(lines)} lines")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="plugin-hunyuan15/src/test/resources/fixtures")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = os.path.join(args.out, "transformer")

    os.makedirs(out, exist_ok=True)
    write_released_shapes(os.path.join(out, "released_shapes.txt"))

    tiny_dir = os.path.join(out, "tiny")
    tiny = make_model(TINY, seed=0)
    save_model(tiny, tiny_dir, pipeline_root=True)
    run_case(tiny, make_inputs(TINY, 10), os.path.join(tiny_dir, "t2v.safetensors"), "T2V: zero image_embeds")
    run_case(tiny, make_inputs(TINY, 11, i2v=True), os.path.join(tiny_dir, "i2v.safetensors"), "I2V: SigLIP tokens")
    run_case(tiny, make_inputs(TINY, 12, byt5=(8, 0), byt5_zero=True), os.path.join(tiny_dir, "no_glyph.safetensors"),
             "no glyph text: zero ByT5 embeddings, all-zero mask")
    run_case(tiny, make_inputs(TINY, 13, byt5=(8, 0), i2v=True), os.path.join(tiny_dir, "byt5_all_padded.safetensors"),
             "random ByT5 embeddings, every token padded")
    run_case(tiny, make_inputs(TINY, 14, latent=(2, 3, 5), qwen=(5, 5), byt5=(3, 1), image=4, i2v=True,
                               timestep=3.25),
             os.path.join(tiny_dir, "odd_tokens.safetensors"), "latent (2,3,5): 30 video tokens, no Qwen padding")

    mf_dir = os.path.join(out, "meanflow")
    mf = make_model(MEANFLOW, seed=1, byt5_width=64)
    save_model(mf, mf_dir, byt5_width=64)
    run_case(mf, make_inputs(MEANFLOW, 20, meanflow=True, i2v=True), os.path.join(mf_dir, "meanflow_i2v.safetensors"),
             "meanflow I2V with timestep_r")
    run_case(mf, make_inputs(MEANFLOW, 21, meanflow=True, latent=(1, 2, 3)), os.path.join(mf_dir, "meanflow_t2v.safetensors"),
             "meanflow T2V, one latent frame")

    unseen_dir = os.path.join(out, "unseen")
    unseen = make_model(UNSEEN, seed=7, byt5_width=32)
    save_model(unseen, unseen_dir, byt5_width=32, pipeline_root=True)
    run_case(unseen, make_inputs(UNSEEN, 30, latent=(2, 2, 3), qwen=(6, 4), byt5=(4, 2), image=3, i2v=True,
                                 timestep=500.0),
             os.path.join(unseen_dir, "i2v.safetensors"), "unseen model, I2V")


if __name__ == "__main__":
    main()
