"""Helpers for the Ray job tests (tests/jobs): tiny images, and a loader that stands where ``load_detector`` will.

Ray workers import this module by name, so it lives on the path the tests
give them (tests/_util), not in a test file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from defectlab.data.io import list_images, load_images, save_png_atomic
from defectlab.detect import PatchKNNDetector
from defectlab.synthetic.surfaces import add_defect, surface

IMAGE_SIZE = 96


def fit_on_folder(model: str) -> PatchKNNDetector:
    """A fitted detector from a folder of normal images: what plain ``detect --normal FOLDER
    --image-size 96`` fits (fit is deterministic), so an actor's scores equal the plain path's."""
    normal, _ = load_images(list_images(model))
    return PatchKNNDetector(image_size=IMAGE_SIZE, progress=False).fit(normal)


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
