"""Helpers for the Ray job tests (tests/jobs): a tiny folder of images to score and one of normal images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from defectlab.data.io import save_png_atomic
from defectlab.synthetic.surfaces import add_defect, surface

IMAGE_SIZE = 96


def make_job_data(root: Path, n_images: int = 8, bad: str | None = "img_03_bad.png") -> tuple[Path, Path]:
    """(normal, images): 3 normal surfaces and ``n_images`` + 1 to score, every other one with a
    defect, and ``bad`` (a file that is not an image) among them."""
    rng = np.random.default_rng(3)
    normal, images = root / "normal", root / "images"
    for i in range(3):
        save_png_atomic(normal / f"n{i}.png", surface(rng, IMAGE_SIZE))
    for i in range(n_images):
        pixels = surface(rng, IMAGE_SIZE)
        if i % 2:
            pixels = add_defect(pixels, "scratch", rng)[0]
        save_png_atomic(images / f"img_{i:02d}.png", pixels)
    # A name that is not UTF-8: listed, opened and written as plain detect does.
    save_png_atomic(images / os.fsdecode(b"img_\xff.png"), surface(rng, IMAGE_SIZE))
    if bad:
        (images / bad).write_bytes(b"not an image")
    return normal, images
