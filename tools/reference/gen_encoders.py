#!/usr/bin/env python3
"""Golden fixtures for the Java ports of HunyuanVideo 1.5's prompt and image encoders.

Runs HF transformers (and diffusers' own pipeline helpers: put a diffusers checkout's src/ on
PYTHONPATH; nothing of diffusers is copied here) on tiny random-weight encoders and writes, under
OUT (default: plugin-hunyuan15/src/test/resources/fixtures/encoders):

  pipeline/text_encoder/{config.json, model.safetensors}     Qwen2_5_VLTextModel (hidden 16, mrope [1,1,2])
  pipeline/tokenizer/{tokenizer.json, tokenizer_config.json} byte-level BPE trained here (no download)
  pipeline/text_encoder_2/{config.json, model.safetensors}   T5EncoderModel, byt5-like (gated-gelu)
  pipeline/image_encoder/{config.json, model.safetensors}    SiglipVisionModel
  qwen.safetensors    input_ids / attention_mask of the template and prompt_embeds / prompt_embeds_mask
                      (hidden_states[-3], cropped) for PROMPTS[0] and the empty negative prompt
  byt5.safetensors    prompt_embeds_2 / prompt_embeds_mask_2 for a prompt with quoted text (and ids)
  siglip.safetensors  image (uint8 HWC), pixel_values (after SiglipImageProcessor) and last_hidden_state
  cases.json          the prompts, the crop start, the lengths

The Qwen model has 4 layers, not 2 as diffusers' pipeline test, because hidden_states[-3] of a
2-layer model is the embedding output and would test no decoder layer. The crop start is computed as
the official code does (position after "<|im_start|>user\\n") and handed to diffusers' helper.
"""
import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, Regex, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (PreTrainedTokenizerFast, Qwen2_5_VLConfig, SiglipImageProcessor, SiglipVisionConfig,
                          SiglipVisionModel, T5Config, T5EncoderModel, ByT5Tokenizer)
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLTextModel

from diffusers.pipelines.hunyuan_video1_5.pipeline_hunyuan_video1_5 import HunyuanVideo15Pipeline

# Qwen2's pre-tokenizer split pattern, as in Qwen2.5-VL's tokenizer.json.
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
              r"\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen2.5-VL's chat template, text-only part (the image/video branches are not reachable here).
CHAT_TEMPLATE = ("{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
                 "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
                 "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PROMPTS = ["A cat walks on the grass, holding a sign that says \"Hello\" and \u201cWorld\u201d, realistic style.", ""]
GLYPH_PROMPT = 'A shop front with "OPEN" neon, a "Caf\u00e9" board and "OPEN" again.'


def rnd(model, seed):
    """Perturbs every parameter (norm weights included) so that nothing sits at its init value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)


def build_tokenizer(out_dir, system_message):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [system_message, "A cat walks on the grass. The color of the sky, light, style and atmosphere."] * 4
    tok.train_from_iterator(corpus, trainer)
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "Qwen2Tokenizer", "pad_token": "<|endoftext|>", "eos_token": "<|im_end|>",
                   "padding_side": "right", "model_max_length": 131072, "chat_template": CHAT_TEMPLATE}, f, indent=1)
    fast = PreTrainedTokenizerFast(tokenizer_file=os.path.join(out_dir, "tokenizer.json"), pad_token="<|endoftext|>",
                                   eos_token="<|im_end|>", padding_side="right")
    fast.chat_template = CHAT_TEMPLATE
    return fast, tok.get_vocab_size()


def crop_start_of(tokenizer, system_message):
    """Official TextEncoder.calculate_crop_start: index just after the tokens of '<|im_start|>user\\n'."""
    ids = tokenizer.apply_chat_template(
        [{"role": "system", "content": system_message}, {"role": "user", "content": "x"}],
        add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    marker = tokenizer("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
    for i in range(len(ids) - len(marker) + 1):
        if ids[i:i + len(marker)] == marker:
            return i + len(marker)
    raise RuntimeError("marker not found")


def save_model(model, d):
    model.save_pretrained(d, safe_serialization=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="plugin-hunyuan15/src/test/resources/fixtures/encoders")
    ap.add_argument("--max-length", type=int, default=24, help="tokenizer_max_length (1000 in the release)")
    args = ap.parse_args()
    out = args.out
    root = os.path.join(out, "pipeline")
    torch.manual_seed(0)
    sysmsg = HunyuanVideo15Pipeline.__init__.__code__.co_consts  # noqa: only to prove the class loads
    system_message = ("You are a helpful assistant. Describe the video by detailing the following aspects: "
                      "        1. The main content and theme of the video. "
                      "        2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects. "
                      "        3. Actions, events, behaviors temporal relationships, physical movement changes of the objects. "
                      "        4. background environment, light, style and atmosphere. "
                      "        5. camera angles, movements, and transitions used in the video.")
    import inspect
    default_sys = inspect.signature(HunyuanVideo15Pipeline._get_mllm_prompt_embeds).parameters["system_message"].default
    assert default_sys == system_message and len(system_message) == 477, "system message drifted from diffusers"

    # ---- Qwen2.5-VL text model + tokenizer ----
    tokenizer, vocab = build_tokenizer(os.path.join(root, "tokenizer"), system_message)
    cfg = Qwen2_5_VLConfig(text_config=dict(
        vocab_size=vocab, hidden_size=16, intermediate_size=16, num_hidden_layers=4, num_attention_heads=2,
        num_key_value_heads=1, rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=256,
        rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}, hidden_act="silu"))
    tcfg = cfg.text_config
    tcfg._attn_implementation = "eager"
    qwen = Qwen2_5_VLTextModel(tcfg).eval()
    rnd(qwen, 1)
    save_model(qwen, os.path.join(root, "text_encoder"))
    crop = crop_start_of(tokenizer, system_message)
    res = {}
    for tag, p in (("", PROMPTS[0]), ("negative_", PROMPTS[1])):
        with torch.no_grad():
            emb, mask = HunyuanVideo15Pipeline._get_mllm_prompt_embeds(
                qwen, tokenizer, p, "cpu", tokenizer_max_length=args.max_length, crop_start=crop)
        ids = tokenizer.apply_chat_template(
            [[{"role": "system", "content": system_message}, {"role": "user", "content": p if p else " "}]],
            add_generation_prompt=True, tokenize=True, return_dict=True, padding="max_length",
            max_length=args.max_length + crop, truncation=True, return_tensors="pt")
        res[tag + "input_ids"] = ids["input_ids"].to(torch.int64)
        res[tag + "prompt_embeds"] = emb.contiguous()
        res[tag + "prompt_embeds_mask"] = mask.to(torch.int64).contiguous()
    # A long prompt that is truncated at max_length + crop.
    with torch.no_grad():
        emb, mask = HunyuanVideo15Pipeline._get_mllm_prompt_embeds(
            qwen, tokenizer, PROMPTS[0] * 3, "cpu", tokenizer_max_length=args.max_length, crop_start=crop)
    res["long_prompt_embeds"] = emb.contiguous()
    res["long_prompt_embeds_mask"] = mask.to(torch.int64).contiguous()
    save_file(res, os.path.join(out, "qwen.safetensors"))

    # ---- ByT5 (T5 encoder, byte tokenizer) ----
    t5cfg = T5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
                     relative_attention_num_buckets=32, relative_attention_max_distance=128,
                     feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, is_encoder_decoder=False,
                     use_cache=False, pad_token_id=0, eos_token_id=1, tie_word_embeddings=False)
    t5 = T5EncoderModel(t5cfg).eval()
    rnd(t5, 2)
    save_model(t5, os.path.join(root, "text_encoder_2"))
    byt5_tok = ByT5Tokenizer()
    byt5_tok.save_pretrained(os.path.join(root, "tokenizer_2"))
    res = {}
    for tag, p in (("", GLYPH_PROMPT), ("noquote_", "no quotes here")):
        with torch.no_grad():
            emb, mask = HunyuanVideo15Pipeline._get_byt5_prompt_embeds(byt5_tok, t5, p, "cpu", tokenizer_max_length=64)
        res[tag + "prompt_embeds_2"] = emb.contiguous()
        res[tag + "prompt_embeds_mask_2"] = mask.to(torch.int64).contiguous()
    from diffusers.pipelines.hunyuan_video1_5.pipeline_hunyuan_video1_5 import extract_glyph_texts
    glyph = extract_glyph_texts(GLYPH_PROMPT)
    res["input_ids"] = byt5_tok(glyph, padding="max_length", max_length=64, truncation=True,
                                return_tensors="pt")["input_ids"].to(torch.int64)
    save_file(res, os.path.join(out, "byt5.safetensors"))

    # ---- SigLIP vision ----
    scfg = SiglipVisionConfig(hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=2,
                              num_channels=3, image_size=28, patch_size=7, hidden_act="gelu_pytorch_tanh",
                              layer_norm_eps=1e-6)
    sig = SiglipVisionModel(scfg).eval()
    rnd(sig, 3)
    save_model(sig, os.path.join(root, "image_encoder"))
    proc = SiglipImageProcessor(size={"height": 28, "width": 28}, resample=3, do_rescale=True,
                                rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    proc.save_pretrained(os.path.join(root, "feature_extractor"))
    g = torch.Generator().manual_seed(4)
    image = torch.randint(0, 256, (45, 61, 3), generator=g, dtype=torch.uint8)
    # Smooth structure plus noise, so the resample filter matters.
    yy, xx = torch.meshgrid(torch.arange(45), torch.arange(61), indexing="ij")
    image = ((image.float() * 0.5 + (yy * 3 + xx * 2).unsqueeze(-1).float()) % 256).to(torch.uint8)
    from PIL import Image
    pix = proc(images=Image.fromarray(image.numpy()), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        hs = sig(pixel_values=pix).last_hidden_state
    save_file({"image": image.contiguous(), "pixel_values": pix.contiguous(), "last_hidden_state": hs.contiguous()},
              os.path.join(out, "siglip.safetensors"))

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"prompt": PROMPTS[0], "negative_prompt": PROMPTS[1], "long_prompt": PROMPTS[0] * 3,
                   "crop_start": crop, "max_length": args.max_length, "glyph_prompt": GLYPH_PROMPT,
                   "byt5_max_length": 64, "glyph_text": glyph}, f, indent=1, ensure_ascii=False)
    with open(os.path.join(root, "model_index.json"), "w") as f:
        json.dump({"_class_name": "HunyuanVideo15Pipeline", "text_encoder": ["transformers", "Qwen2_5_VLTextModel"],
                   "tokenizer": ["transformers", "Qwen2Tokenizer"],
                   "text_encoder_2": ["transformers", "T5EncoderModel"],
                   "tokenizer_2": ["transformers", "ByT5Tokenizer"]}, f, indent=1)
    print("crop_start", crop, "vocab", vocab)


if __name__ == "__main__":
    main()
