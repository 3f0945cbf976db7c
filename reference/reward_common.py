"""Shared helpers of the reward-model fixtures (reference/make_reward_fixtures.py).

- randomize_(): deterministic non-trivial weights (the same rule as make_sd_fixtures.py), so
  that norms, biases and attention patterns are all exercised;
- the reference preprocessing, written from the upstream code paths SDPO used:
  transformers 4.30 CLIPImageProcessor (PIL resize of the shorter side with BICUBIC, then
  transformers' center_crop with top = (h - size) // 2, rescale, normalize) and HPSv2's vendored
  open_clip ResizeMaxSize (PIL resize of the longer side, round(dim * scale), zero padding with
  left/top = pad // 2). transformers 5's CLIPImageProcessor is torchvision-based (no PIL path),
  so the PIL steps are spelled out here rather than called.
- the tiny CLIP BPE tokenizer: the real CLIP vocabulary cut after its first N_MERGES merges (the
  ids of every kept token equal the real ids), so a tiny text tower needs only a small
  embedding table while the tokenizer code paths stay the real ones.
"""
import json
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
META = {"format": "pt"}


def save(tensors, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, path, metadata=META)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def randomize_(model, seed):
    """Linear/conv weights N(0, 1/fan_in), biases N(0, 0.1^2), norm gammas 1 + N(0, 0.1^2),
    betas N(0, 0.1^2), embeddings and raw parameters (class/position embeddings, BLIP's
    cls_token/pos_embed, open_clip's proj) N(0, 0.5^2). logit_scale is left to the caller."""
    g = torch.Generator().manual_seed(seed)
    norm_types = (torch.nn.GroupNorm, torch.nn.LayerNorm)
    with torch.no_grad():
        for name, mod in sorted(model.named_modules(), key=lambda kv: kv[0]):
            for pname, p in sorted(mod.named_parameters(recurse=False)):
                if pname == "logit_scale":
                    continue
                if isinstance(mod, norm_types):
                    v = torch.randn(p.shape, generator=g) * 0.1 + (1.0 if pname == "weight" else 0.0)
                elif isinstance(mod, torch.nn.Embedding):
                    v = torch.randn(p.shape, generator=g) * (0.5 if "position" in name else 1.0)
                elif pname in ("weight", "in_proj_weight") and p.dim() >= 2:
                    v = torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5
                elif pname.endswith("bias"):
                    v = torch.randn(p.shape, generator=g) * 0.1
                else:
                    scale = 1.0 / p.shape[0] ** 0.5 if p.dim() == 2 and pname in ("proj", "text_projection") else 0.5
                    v = torch.randn(p.shape, generator=g) * scale
                p.copy_(v)


# ------------------------------------------------------------------ preprocessing
def pil_bicubic(img, w, h):
    return img.resize((w, h), Image.BICUBIC)


def normalize(img):
    """PIL RGB → float32 [3, H, W]: v/255 then (x - mean)/std, in float32 as torchvision."""
    a = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    a = (a - CLIP_MEAN) / CLIP_STD
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def clip_processor(img, size):
    """transformers 4.30 CLIPImageProcessor(size={"shortest_edge": size}, crop_size=size,
    resample=BICUBIC) on a PIL RGB image (the path SDPO's CLIPProcessor took)."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    img = pil_bicubic(img, nw, nh)
    top, left = (nh - size) // 2, (nw - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return normalize(img)


def resize_max_pad(img, size):
    """HPSv2 (vendored open_clip) ResizeMaxSize(size, fill=0) + ToTensor + Normalize."""
    w, h = img.size
    scale = size / float(max(h, w))
    nh, nw = round(h * scale), round(w * scale)
    img = pil_bicubic(img, nw, nh)
    pad_h, pad_w = size - nh, size - nw
    canvas = Image.new("RGB", (size, size), (0, 0, 0))
    canvas.paste(img, (pad_w // 2, pad_h // 2))
    return normalize(canvas)


# ------------------------------------------------------------------ tiny CLIP tokenizer
def write_tiny_clip_tokenizer(out_dir, real_dir, n_merges):
    """vocab.json / merges.txt of the first n_merges merges of the real CLIP BPE, plus bos/eos;
    tokenizer_config.json as openai/clip-vit-large-patch14's (pad = eos, max length 77)."""
    with open(os.path.join(real_dir, "vocab.json"), encoding="utf-8") as f:
        real = json.load(f)
    with open(os.path.join(real_dir, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [l for l in lines[1:] if l][:n_merges]
    by_id = sorted(real.items(), key=lambda kv: kv[1])
    keep = [t for t, i in by_id[:512 + n_merges]]
    for k, m in enumerate(merges):  # the real vocabulary lists merge results in merge order
        assert keep[512 + k] == m.replace(" ", ""), (k, m)
    keep += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(keep)}, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(lines[0] + "\n" + "\n".join(merges) + "\n")
    tok = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
           "pad_token": "<|endoftext|>", "model_max_length": 77, "do_lower_case": True,
           "tokenizer_class": "CLIPTokenizer"}
    write_json(os.path.join(out_dir, "tokenizer_config.json"), tok)
    write_json(os.path.join(out_dir, "special_tokens_map.json"),
               {k: tok[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token")})
    return len(keep)
