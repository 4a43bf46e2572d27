"""Shared helpers for the labelling-app tests (tests/app, tests/cli): a tiny image folder and a normal folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Each defective image has a dark scratch at rows 30-34, columns 40-90.
SCRATCH = (slice(30, 35), slice(40, 90))


def _surface(seed: int, height: int = 96, width: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (150 + rng.normal(0, 6, (height, width))).clip(0, 255).astype(np.uint8)


def make_folders(root: Path, n_images: int = 4) -> tuple[Path, Path]:
    images, normal = root / "images", root / "normal"
    images.mkdir(parents=True)
    normal.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(_surface(100 + i)).save(normal / f"ok_{i}.png")
    for i in range(n_images):
        pixels = _surface(i)
        pixels[SCRATCH] = 40
        if i % 2:
            Image.fromarray(pixels).save(images / f"part_{i:02d}.png")
        else:
            Image.fromarray(np.stack([pixels] * 3, axis=2)).save(images / f"part_{i:02d}.jpg", quality=95)
    return images, normal
