"""Converts an HPSv2 checkpoint (HPS_v2_compressed.pt / HPS_v2.1_compressed.pt, a PyTorch
pickle) into a folder `sdpo score --reward hpsv2 --model DIR` reads.

    /work/venv-ref/bin/python reference/convert_hpsv2.py HPS_v2_compressed.pt DIR

Input: {"state_dict": open_clip CLIP state dict} (what HPSv2's img_score.py passes to
model.load_state_dict), read with torch.load(weights_only=True), so no pickled code runs.
Writes:
  DIR/model.safetensors       every tensor of state_dict under its open_clip name, dtype kept
                              (F32 or F16; the C loader reads both as F32):
      visual.class_embedding [1280], visual.positional_embedding [257, 1280],
      visual.conv1.weight [1280, 3, 14, 14], visual.ln_pre.{weight,bias},
      visual.transformer.resblocks.N.{ln_1, attn.in_proj_weight [3840, 1280] (rows q|k|v),
          attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}.{weight,bias},
      visual.ln_post.{weight,bias}, visual.proj [1280, 1024] (x @ proj),
      token_embedding.weight [49408, 1024], positional_embedding [77, 1024],
      transformer.resblocks.N.* (as visual, width 1024), ln_final.{weight,bias},
      text_projection [1024, 1024] (x @ text_projection), logit_scale [] (unused by HPSv2)
  DIR/open_clip_config.json   open_clip's ViT-H-14 model config (embed_dim, vision_cfg, text_cfg)
  DIR/vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
                              the CLIP BPE built from open_clip's bpe_simple_vocab_16e6.txt.gz
                              (pad = <|endoftext|>, model_max_length 77)
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def open_clip_config(name="ViT-H-14"):
    import open_clip
    path = os.path.join(os.path.dirname(open_clip.__file__), "model_configs", name + ".json")
    with open(path) as f:
        return json.load(f)


def write_tokenizer(out_dir):
    import sd_tokenizer
    from reward_common import write_json
    sd_tokenizer.write_vocab_and_merges(out_dir)
    tok = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
           "pad_token": "<|endoftext|>", "model_max_length": 77, "do_lower_case": True,
           "tokenizer_class": "CLIPTokenizer"}
    write_json(os.path.join(out_dir, "tokenizer_config.json"), tok)
    write_json(os.path.join(out_dir, "special_tokens_map.json"),
               {k: tok[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token")})


def convert(src, out_dir, config=None, tokenizer_dir=None):
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    sd = ckpt["state_dict"] if isinstance(ckpt, dict) and "state_dict" in ckpt else None
    if sd is None:
        raise SystemExit(f"{src}: no 'state_dict' entry (not an HPSv2 checkpoint)")
    for need in ("visual.conv1.weight", "token_embedding.weight", "text_projection"):
        if need not in sd:
            raise SystemExit(f"{src}: tensor '{need}' missing (not an open_clip CLIP state dict)")
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.detach().contiguous().clone() for k, v in sd.items()},
              os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "open_clip_config.json"), "w") as f:
        json.dump(config or open_clip_config(), f, indent=2, sort_keys=True)
        f.write("\n")
    if tokenizer_dir:
        for name in os.listdir(tokenizer_dir):
            shutil.copy(os.path.join(tokenizer_dir, name), out_dir)
    else:
        write_tokenizer(out_dir)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
