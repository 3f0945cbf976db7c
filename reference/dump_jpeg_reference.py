#!/usr/bin/env python3
"""JPEG reward fixtures: deterministic test images as PNG and Pillow's JPEG byte counts.

DDPO's jpeg rewards (baselines.md §5) encode with Pillow, quality 95, other options default.
Writes tests/data/jpeg/{smooth,noise,stripes,odd}.png and sizes.txt ("name bytes" per line).
Run with the reference venv:  python reference/dump_jpeg_reference.py
"""
import io
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jpeg")


def images():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    smooth = np.stack([x * 4, y * 4, (x + y) * 2], -1)
    noise = rng.integers(0, 256, (64, 64, 3))
    stripes = np.stack([(x // 3 % 2) * 255, (y // 5 % 2) * 200, ((x + y) // 7 % 2) * 120], -1)
    odd = rng.integers(0, 256, (37, 53, 3)) // 64 * 64  # odd sizes exercise edge MCUs
    return {"smooth": smooth, "noise": noise, "stripes": stripes, "odd": odd}


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "sizes.txt"), "w") as f:
        f.write("# Pillow %s JPEG quality=95 byte counts\n" % Image.__version__)
        for name, arr in images().items():
            img = Image.fromarray(arr.astype(np.uint8), "RGB")
            img.save(os.path.join(OUT, name + ".png"))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=95)
            f.write("%s %d\n" % (name, len(buf.getvalue())))


if __name__ == "__main__":
    main()
