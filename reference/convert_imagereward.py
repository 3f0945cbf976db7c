"""Converts ImageReward (ImageReward.pt, a PyTorch pickle, + med_config.json) into a folder
`sdpo score --reward imagereward --model DIR` reads.

    /work/venv-ref/bin/python reference/convert_imagereward.py ImageReward.pt med_config.json DIR

(ImageReward.pt and med_config.json are what ImageReward.load("ImageReward-v1.0") downloads from
THUDM/ImageReward.) The state dict is read with torch.load(weights_only=True), so no pickled code
runs. Writes:
  DIR/model.safetensors  the tensors the score uses, under their ImageReward names, F32:
      blip.visual_encoder.{cls_token [1,1,1024], pos_embed [1,197,1024],
          patch_embed.proj.{weight [1024,3,16,16], bias}, blocks.N.{norm1, attn.qkv [3072,1024]
          (rows q|k|v), attn.proj, norm2, mlp.fc1, mlp.fc2}.{weight,bias}, norm.{weight,bias}}
      blip.text_encoder.embeddings.{word_embeddings [30524,768], position_embeddings [512,768],
          LayerNorm}, blip.text_encoder.encoder.layer.N.{attention.self.{query,key,value},
          attention.output.{dense,LayerNorm}, crossattention.self.{query [768,768],
          key [768,1024], value [768,1024]}, crossattention.output.{dense,LayerNorm},
          intermediate.dense, output.{dense,LayerNorm}}.{weight,bias}
      mlp.layers.{0,2,4,6,7}.{weight,bias}   (768→1024→128→64→16→1)
    Dropped (listed on stdout): blip.vision_proj, blip.text_proj and any other tensor outside
    those three groups, and position_ids buffers.
  DIR/med_config.json    the given BERT config (encoder_width is set to the ViT width in C)
  DIR/config.json        the BLIP ViT-L/16 sizes (BLIP_Pretrain(vit='large') hard-codes them),
                         max_length 35, reward_mean 0.16717362830052426, reward_std 1.0333394966054072
  DIR/vocab.txt          bert-base-uncased's vocabulary (BertTokenizer.from_pretrained saves it;
                         pass --vocab FILE to copy a local one instead)
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

REAL_CONFIG = {"architecture": "ImageReward", "image_size": 224, "vision_patch_size": 16,
               "vision_width": 1024, "vision_layers": 24, "vision_heads": 16, "vision_mlp_ratio": 4,
               "vision_layer_norm_eps": 1e-6, "max_length": 35,
               "reward_mean": 0.16717362830052426, "reward_std": 1.0333394966054072}
KEEP = ("blip.visual_encoder.", "blip.text_encoder.", "mlp.layers.")


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def convert(src, med_config, out_dir, vocab_path=None, config=None):
    sd = torch.load(src, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    keep = {k: v for k, v in sd.items() if k.startswith(KEEP) and not k.endswith("position_ids")}
    dropped = sorted(set(sd) - set(keep))
    for need in ("blip.visual_encoder.cls_token", "blip.text_encoder.embeddings.word_embeddings.weight",
                 "mlp.layers.0.weight"):
        if need not in keep:
            raise SystemExit(f"{src}: tensor '{need}' missing (not an ImageReward state dict)")
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.detach().float().contiguous().clone() for k, v in keep.items()},
              os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(med_config, os.path.join(out_dir, "med_config.json"))
    write_json(os.path.join(out_dir, "config.json"), config or REAL_CONFIG)
    if vocab_path:
        shutil.copy(vocab_path, os.path.join(out_dir, "vocab.txt"))
    else:
        from transformers import BertTokenizer
        BertTokenizer.from_pretrained("bert-base-uncased").save_vocabulary(out_dir)
    print(f"{out_dir}: {len(keep)} tensors; dropped {len(dropped)}: {', '.join(dropped)}")


if __name__ == "__main__":
    args = sys.argv[1:]
    vocab = None
    if "--vocab" in args:
        i = args.index("--vocab")
        vocab = args[i + 1]
        del args[i:i + 2]
    if len(args) != 3:
        raise SystemExit(__doc__)
    convert(args[0], args[1], args[2], vocab_path=vocab)
