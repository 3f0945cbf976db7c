"""Writes tests/data/reward_fixtures/: tiny random reward models in the key layouts of the real
checkpoints, their inputs, and what the reference code computes from them.

    HF_HUB_OFFLINE=1 /work/venv-ref/bin/python reference/make_reward_fixtures.py

Nothing is downloaded; see reference/README.md (section "Reward-model fixtures") for the files,
the tiny configs and the pinned versions. Deterministic: fixed seeds, one thread.

Reference implementations used (the code SDPO's reward functions call):
  aesthetic  transformers CLIPModel (vision tower + visual_projection), L2 normalisation, and
             improved-aesthetic-predictor's MLP (nn.Sequential Linear/Dropout without ReLUs),
             saved with torch.save and converted by reference/convert_aesthetic.py;
  pickscore  transformers CLIPModel: exp(logit_scale) * cos(image_embeds, text_embeds);
  hpsv2      open_clip CLIP (OpenCLIP state-dict names, fused in_proj), the HPSv2 checkpoint
             format {"state_dict": ...} converted by reference/convert_hpsv2.py;
             score = cos(normalised features) (HPSv2 img_score.py);
  imagereward  see reward_blip.py.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import reward_common as R  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

FIX = os.path.join(ROOT, "tests", "data", "reward_fixtures")
CLIP_TOK_REAL = os.path.join(ROOT, "tests", "data", "sd_fixtures", "tokenizer")
N_MERGES = 300                       # tiny CLIP vocabulary: 512 bytes + 300 merges + bos/eos
PROMPTS = ["cat", "A dog on the moon", "Four wolves in the park, at night!"]
IMAGE_SIZES = [(64, 64), (50, 70), (70, 45)]   # (H, W): square, portrait, landscape


def make_images(out_dir, seed=7):
    """Random RGB8 images of IMAGE_SIZES as PNG; returns the PIL images."""
    rng = np.random.default_rng(seed)
    imgs = []
    for i, (h, w) in enumerate(IMAGE_SIZES):
        yy, xx = np.mgrid[0:h, 0:w]
        base = 128 + 90 * np.sin(xx[..., None] * (0.2 + 0.1 * np.arange(3)) + yy[..., None] * 0.13 + i)
        a = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).round().astype(np.uint8)
        img = Image.fromarray(a, "RGB")
        img.save(os.path.join(out_dir, f"image{i}.png"))
        imgs.append(img)
    return imgs


# ------------------------------------------------------------------ resize fixtures
def make_resize_fixtures():
    """PIL bicubic resizes: 512→224 (the SD-Turbo case), 64→224 upscaling, the CLIP processor's
    shorter-side sizes of 300×200 and 131×97, and HPSv2's longer-side size of 200×300."""
    out = os.path.join(FIX, "resize")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)

    def pattern(h, w, fx, fy):
        """Smooth waves with hard-edged blocks and thin lines (overshoot must clip), PNG-friendly."""
        yy, xx = np.mgrid[0:h, 0:w]
        a = np.stack([128 + 100 * np.sin(xx / fx + c) * np.cos(yy / fy - c) for c in range(3)], -1)
        a[h // 5:h // 3, 2 * w // 5:2 * w // 3] = [255, 0, 255]
        a[3 * h // 5:4 * h // 5:8, w // 12:11 * w // 12] = 0
        return a.clip(0, 255).round().astype(np.uint8)

    inputs = {
        "smooth512": pattern(512, 512, 23.0, 31.0),
        "noise64": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
        "wave200x300": pattern(200, 300, 7.0, 5.0),  # (H, W)
        "wave97x131": pattern(97, 131, 3.0, 4.0),
        "wave300x200": pattern(300, 200, 6.0, 9.0),
    }
    cases = [("smooth512", 224, 224), ("noise64", 224, 224), ("wave200x300", 336, 224),
             ("wave97x131", 302, 224), ("wave300x200", 149, 224), ("smooth512", 100, 37)]
    lines = ["# input output out_width out_height  (PIL Image.resize(BICUBIC) of input)"]
    for name, a in inputs.items():
        Image.fromarray(a, "RGB").save(os.path.join(out, f"{name}.png"), optimize=True)
    for name, w, h in cases:
        o = R.pil_bicubic(Image.open(os.path.join(out, f"{name}.png")), w, h)
        oname = f"{name}_to_{w}x{h}"
        o.save(os.path.join(out, f"{oname}.png"), optimize=True)
        lines.append(f"{name} {oname} {w} {h}")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ------------------------------------------------------------------ CLIP family
def hf_clip(act, seed, vocab, eos_id, bos_id):
    from transformers import CLIPConfig, CLIPModel
    cfg = CLIPConfig(
        text_config=dict(vocab_size=vocab, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                         num_attention_heads=3, max_position_embeddings=77, hidden_act=act,
                         eos_token_id=eos_id, bos_token_id=bos_id, pad_token_id=eos_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=42, patch_size=14, hidden_act=act),
        projection_dim=16)
    m = CLIPModel(cfg).eval()
    R.randomize_(m, seed)
    with torch.no_grad():
        m.logit_scale.fill_(4.6)   # ≈ ln 100, as laion CLIP-H / PickScore
    return m


def hf_image_embeds(m, pixels):
    with torch.no_grad():
        pooled = m.vision_model(pixel_values=pixels).pooler_output
        return m.visual_projection(pooled)


def hf_text_embeds(m, ids):
    with torch.no_grad():
        pooled = m.text_model(input_ids=ids).pooler_output
        return m.text_projection(pooled)


def tokenize(tok, prompts):
    """ids padded to 77 with the tokenizer's pad (eos); the C side runs the same length."""
    return torch.tensor(tok(prompts, padding="max_length", max_length=77, truncation=True).input_ids)


def save_hf_model(m, out_dir):
    m.save_pretrained(out_dir, safe_serialization=True)
    # transformers writes generation/other files we do not need
    for extra in os.listdir(out_dir):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out_dir, extra))


def make_aesthetic(imgs, tok_dir, vocab, pixels):
    """CLIP L/14 family (QuickGELU) + the LAION head on normalised image embeds."""
    out = os.path.join(FIX, "aesthetic")
    m = hf_clip("quick_gelu", 201, vocab, vocab - 1, vocab - 2)
    save_hf_model(m, out)
    torch.manual_seed(202)
    head = torch.nn.Sequential(   # improved-aesthetic-predictor MLP layout, tiny widths
        torch.nn.Linear(16, 24), torch.nn.Dropout(0.2), torch.nn.Linear(24, 12), torch.nn.Dropout(0.2),
        torch.nn.Linear(12, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 4), torch.nn.Linear(4, 1)).eval()
    R.randomize_(head, 203)
    pth = os.path.join(FIX, "tmp_aesthetic_head.pth")
    torch.save({"layers." + k: v for k, v in head.state_dict().items()}, pth)
    import convert_aesthetic
    convert_aesthetic.convert(pth, os.path.join(out, "aesthetic_head.safetensors"))
    os.remove(pth)
    emb = hf_image_embeds(m, pixels)
    e = emb / torch.linalg.vector_norm(emb, dim=-1, keepdim=True)
    with torch.no_grad():
        score = head(e).squeeze(1)
    R.save({"pixel_values": pixels, "image_embeds": emb, "scores": score},
           os.path.join(FIX, "golden", "aesthetic.safetensors"))


def make_pickscore(tok, tok_dir, vocab, pixels):
    out = os.path.join(FIX, "pickscore")
    m = hf_clip("gelu", 301, vocab, vocab - 1, vocab - 2)
    save_hf_model(m, out)
    for f in os.listdir(tok_dir):
        shutil.copy(os.path.join(tok_dir, f), out)
    ids = tokenize(tok, PROMPTS)
    img = hf_image_embeds(m, pixels)
    txt = hf_text_embeds(m, ids)
    with torch.no_grad():
        cos = torch.nn.functional.cosine_similarity(img, txt, dim=-1, eps=0.0)
        i_n = img / img.norm(dim=-1, keepdim=True)
        t_n = txt / txt.norm(dim=-1, keepdim=True)
        score = m.logit_scale.exp() * (i_n * t_n).sum(-1)   # PickScore: logit_scale.exp() * t·i
    R.save({"pixel_values": pixels, "input_ids": ids, "image_embeds": img, "text_embeds": txt,
            "cosine": cos, "scores": score}, os.path.join(FIX, "golden", "pickscore.safetensors"))


def make_hpsv2(tok, tok_dir, vocab, imgs):
    import open_clip
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    out = os.path.join(FIX, "hpsv2")
    oc_cfg = {"embed_dim": 16,
              "vision_cfg": {"image_size": 42, "layers": 2, "width": 32, "head_width": 8, "patch_size": 14},
              "text_cfg": {"context_length": 77, "vocab_size": vocab, "width": 24, "heads": 3, "layers": 2}}
    m = CLIP(oc_cfg["embed_dim"], CLIPVisionCfg(**oc_cfg["vision_cfg"]), CLIPTextCfg(**oc_cfg["text_cfg"]),
             quick_gelu=False).eval()
    R.randomize_(m, 401)
    with torch.no_grad():
        m.logit_scale.fill_(4.6)
    os.makedirs(out, exist_ok=True)
    pt = os.path.join(FIX, "tmp_hps.pt")
    torch.save({"state_dict": m.state_dict()}, pt)     # HPS_v2_compressed.pt's structure
    import convert_hpsv2
    convert_hpsv2.convert(pt, out, oc_cfg, tokenizer_dir=tok_dir)
    os.remove(pt)
    pixels = torch.from_numpy(np.stack([R.resize_max_pad(im, 42) for im in imgs]))
    # open_clip pads with 0 and forces eot last on truncation; our prompts fit, and the tiny
    # tokenizer's ids for them equal open_clip's (the tower pools at argmax = eot).
    ids = tokenize(tok, PROMPTS)
    with torch.no_grad():
        img = m.encode_image(pixels)
        txt = m.encode_text(ids)
        out_d = m(pixels, ids)
        if isinstance(out_d, dict):
            fi, ft = out_d["image_features"], out_d["text_features"]
        else:
            fi, ft = out_d[0], out_d[1]
        score = (fi * ft).sum(-1)   # diag(image_features @ text_features.T)
    R.save({"pixel_values": pixels, "input_ids": ids, "image_embeds": img, "text_embeds": txt,
            "scores": score}, os.path.join(FIX, "golden", "hpsv2.safetensors"))
    return open_clip.__version__


def main():
    if os.path.isdir(FIX):
        shutil.rmtree(FIX)
    os.makedirs(os.path.join(FIX, "golden"))
    make_resize_fixtures()
    img_dir = os.path.join(FIX, "images")
    os.makedirs(img_dir)
    imgs = make_images(img_dir)
    with open(os.path.join(FIX, "prompts.txt"), "w") as f:
        f.write("\n".join(PROMPTS) + "\n")
    tok_dir = os.path.join(FIX, "clip_tokenizer")
    vocab = R.write_tiny_clip_tokenizer(tok_dir, CLIP_TOK_REAL, N_MERGES)
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer.from_pretrained(tok_dir)
    clip_pixels = torch.from_numpy(np.stack([R.clip_processor(im, 42) for im in imgs]))
    make_aesthetic(imgs, tok_dir, vocab, clip_pixels)
    make_pickscore(tok, tok_dir, vocab, clip_pixels)
    make_hpsv2(tok, tok_dir, vocab, imgs)
    shutil.rmtree(tok_dir)
    import reward_blip
    reward_blip.make_imagereward(FIX, imgs, PROMPTS)
    total = 0
    for d, _, files in os.walk(FIX):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    print(f"wrote {FIX}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
