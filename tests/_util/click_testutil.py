"""Shared helpers for the ADClick tests: tiny images, a tiny MVTec folder, a tiny checkpoint.

Not a conftest.py: tests/app already has one, and two top-level conftest
modules of the same name in non-package folders can collide.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from defectlab.backbones.text import TEXT_ENCODERS, TextEncoder
from defectlab.click.checkpoint import ClickConfig, save_checkpoint
from defectlab.click.model import ClickHead, HeadConfig
from defectlab.click.residual import FeatureSettings

TEST_TEXT_DIM = 16


@TEXT_ENCODERS.register("test-hash")
class HashEncoder(TextEncoder):
    """A deterministic stand-in for a text model: tests must not load MiniLM every time."""

    name = "test-hash"
    dim = TEST_TEXT_DIM

    def _encode(self, texts):
        out = []
        for t in texts:
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
            out.append(np.random.default_rng(seed).standard_normal(self.dim))
        return np.array(out, np.float32)


def texture(rng: np.random.Generator, h: int = 96, w: int = 96) -> np.ndarray:
    """A normal surface: vertical brushed stripes plus mild noise, RGB uint8."""
    cols = cv2.GaussianBlur(rng.normal(128, 18, (1, w)).astype(np.float32), (0, 0), 1.5)
    img = np.repeat(cols, h, axis=0) + rng.normal(0, 4, (h, w))
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def with_blob(image: np.ndarray, centre=(48, 48), radius=10, value=30) -> tuple[np.ndarray, np.ndarray]:
    out = image.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(mask, centre, radius, 1, -1)
    out[mask.astype(bool)] = value
    return out, mask.astype(bool)


def make_mvtec(root: Path, category: str = "tile", n_train: int = 4, size: int = 96) -> Path:
    """ROOT/<category>/{train/good, test/good, test/blob, ground_truth/blob}: the MVTec AD layout."""
    rng = np.random.default_rng(0)
    base = root / category
    for sub in ("train/good", "test/good", "test/blob", "ground_truth/blob"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n_train):
        Image.fromarray(texture(rng, size, size)).save(base / "train/good" / f"{i:03d}.png")
    Image.fromarray(texture(rng, size, size)).save(base / "test/good/000.png")
    for i, (c, r) in enumerate((((40, 50), 10), ((60, 30), 7))):
        img, mask = with_blob(texture(rng, size, size), c, r)
        Image.fromarray(img).save(base / "test/blob" / f"{i:03d}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(base / "ground_truth/blob" / f"{i:03d}_mask.png")
    return root


def tiny_checkpoint(path: Path, text_encoder: str | None = "test-hash", seed: int = 0) -> Path:
    import torch

    torch.manual_seed(seed)
    head_cfg = HeadConfig(text_dim=TEST_TEXT_DIM, proj=8, width=16, key_dim=8, fine_width=8, dilations=(1, 2))
    features = FeatureSettings(image_size=96, max_side=128, top_k=2)
    config = ClickConfig(head=head_cfg, features=features, text_encoder=text_encoder)
    return save_checkpoint(ClickHead(head_cfg), config, path)


import pytest  # noqa: E402


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored after: on a shared 2-core machine two
    intra-op threads spin-wait on each other and the backbone runs many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
