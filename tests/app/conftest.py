"""Fixtures for the labelling app: a tiny image folder, a normal folder, an app on fakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defectlab.app.fake import FakeClickSession, FakeReference

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


def fake_session_factory(image, reference, prompt):
    return FakeClickSession(image, normal_images=reference, prompt=prompt, radius=10)


def fake_reference_factory(normal_images):
    return FakeReference(normal_images)


@pytest.fixture
def folders(tmp_path):
    return make_folders(tmp_path)


@pytest.fixture
def make_app(folders, tmp_path):
    from defectlab.app.server import create_app

    def make(**kwargs):
        images, normal = folders
        kwargs.setdefault("session_factory", fake_session_factory)
        kwargs.setdefault("reference_factory", fake_reference_factory)
        kwargs.setdefault("wait_timeout", 20.0)
        return create_app(images, normal, kwargs.pop("out_dir", tmp_path / "out"), **kwargs)

    return make


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as c:
        yield c
