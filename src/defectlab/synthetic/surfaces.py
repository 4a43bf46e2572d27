"""Textured surfaces with drawn structural defects: the demo's inspection set.

Woven-fabric / brushed-metal look, lighting varying per image, four kinds of
defect (scratch, stain, hole, crack) with their masks, written in the
folder layout (``train/good``, ``test/<defect>``, ``ground_truth/<defect>``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..data.io import save_png_atomic
from ..errors import ConfigError
from . import paint

DEFECTS = ("scratch", "stain", "hole", "crack")


def surface(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A textured surface: a weave of two orientations, fine grain and a lighting gradient."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 2)
    weave = 0.5 + 0.25 * np.sin(2 * np.pi * x / 12 + phase[0]) * np.sign(np.sin(2 * np.pi * y / 24 + phase[1]))
    grain = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), sigmaX=3, sigmaY=0.7)
    light = 1 + 0.15 * ((x - rng.uniform(0, size)) / size)
    gray = np.clip((weave + 0.08 * grain) * light, 0, 1)
    tint = np.array([0.75, 0.8, 0.9], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    return (gray[..., None] * tint * 255).astype(np.uint8)


def add_defect(image: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one defect; return (image, mask uint8 0/255)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cx, cy = (int(v) for v in rng.uniform(0.25, 0.75, 2) * (w, h))
    if kind == "scratch":
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.25, 0.45) * w
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        mask = (paint.stroke((h, w), [(int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy))], 3) > 0).astype(np.uint8) * 255
        colour = np.array([245, 245, 245])
    elif kind == "stain":
        axes = (int(rng.uniform(10, 22)), int(rng.uniform(7, 15)))
        cv2.ellipse(mask, (cx, cy), axes, rng.uniform(0, 180), 0, 360, 255, -1)
        colour = np.array([120, 80, 40])
    elif kind == "hole":
        cv2.circle(mask, (cx, cy), int(rng.uniform(6, 11)), 255, -1)
        colour = np.array([15, 15, 15])
    elif kind == "crack":
        pts = [(cx, cy)]
        direction = rng.uniform(0, 2 * np.pi)
        for _ in range(24):
            direction += rng.normal(0, 0.5)
            pts.append((int(pts[-1][0] + 4 * np.cos(direction)), int(pts[-1][1] + 4 * np.sin(direction))))
        mask = (paint.stroke((h, w), pts, 2) > 0).astype(np.uint8) * 255
        colour = np.array([30, 30, 35])
    else:
        raise ConfigError(f"unknown defect kind {kind!r}; choose from {DEFECTS}")
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.0)
    return paint.tint(image, soft, colour, 0.85), mask


def make_demo_data(root: Path, n_normal: int = 8, n_test_normal: int = 6, per_defect: int = 3, seed: int = 0) -> Path:
    """Write a folder-layout dataset: train/good, test/good, test/<defect>, ground_truth/<defect>."""
    rng = np.random.default_rng(seed)
    for i in range(n_normal):
        save_png_atomic(root / "train" / "good" / f"{i:03d}.png", surface(rng))
    for i in range(n_test_normal):
        save_png_atomic(root / "test" / "good" / f"{i:03d}.png", surface(rng))
    for kind in DEFECTS:
        for i in range(per_defect):
            image, mask = add_defect(surface(rng), kind, rng)
            save_png_atomic(root / "test" / kind / f"{i:03d}.png", image)
            save_png_atomic(root / "ground_truth" / kind / f"{i:03d}_mask.png", mask)
    return root
