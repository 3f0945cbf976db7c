"""Converts the LAION improved-aesthetic-predictor head (a PyTorch pickle) to safetensors.

    /work/venv-ref/bin/python reference/convert_aesthetic.py \
        sac+logos+ava1-l14-linearMSE.pth CLIP_DIR/aesthetic_head.safetensors

Input: the state dict that christophschuhmann/improved-aesthetic-predictor's MLP saved
(torch.save(model.state_dict())), sha256 21dd590f…f1e0 for the published file. It is read with
torch.load(weights_only=True), so no pickled code runs.
Output tensor names (unchanged from the state dict; all F32, Linear weights [out, in]):
    layers.0.weight [1024, 768]  layers.0.bias [1024]
    layers.2.weight [128, 1024]  layers.2.bias [128]
    layers.4.weight [64, 128]    layers.4.bias [64]
    layers.6.weight [16, 64]     layers.6.bias [16]
    layers.7.weight [1, 16]      layers.7.bias [1]
(indices 1, 3, 5 are the Dropouts; there are no activations). `sdpo score --reward aesthetic`
expects the file as aesthetic_head.safetensors inside the openai/clip-vit-large-patch14 folder.
"""
import sys

import torch
from safetensors.torch import save_file

LAYERS = (0, 2, 4, 6, 7)


def convert(src, dst):
    sd = torch.load(src, map_location="cpu", weights_only=True)
    names = [f"layers.{i}.{p}" for i in LAYERS for p in ("weight", "bias")]
    missing = [n for n in names if n not in sd]
    extra = [k for k in sd if k not in names]
    if missing or extra:
        raise SystemExit(f"{src}: not an aesthetic-predictor head (missing {missing}, unexpected {extra})")
    prev = None
    for i in LAYERS:
        w = sd[f"layers.{i}.weight"]
        if w.dim() != 2 or (prev is not None and w.shape[1] != prev):
            raise SystemExit(f"{src}: layers.{i}.weight has shape {tuple(w.shape)}")
        prev = w.shape[0]
    if prev != 1:
        raise SystemExit(f"{src}: the last layer has {prev} outputs, want 1")
    save_file({n: sd[n].detach().float().contiguous().clone() for n in names}, dst, metadata={"format": "pt"})


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
