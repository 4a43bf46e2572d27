"""Synthetic anomalies pasted onto normal images, with their exact masks.

Real defect masks are scarce (that is the point of ADClick), so training
adds synthetic defects of three generic kinds, chosen to span the shapes
real defects take rather than to imitate any one dataset:

- ``cut_paste``: a piece of another (or the same) normal image, with a
  random outline, brightness/contrast change and flip (CutPaste), for
  "foreign texture" defects with sharp edges;
- ``noise_blob``: a smooth random-field blob that darkens, brightens or
  re-textures the surface (DRAEM-style), for stains, uneven areas, holes;
- ``scratch``: a thin curved stroke, darker or brighter, for cracks and
  scratches, which are the hardest to segment to a high IoU;
- ``region``: a large area (a tenth to a half of the image) whose surface
  differs only subtly: the texture of another normal image turned or
  rescaled (a different grinding or polishing direction), a smeared or
  roughened finish, or a faint shading change. Such areas are made of
  patches that each look normal, so the residual barely marks them; the
  head must learn to grow what was clicked by appearance, which small
  high-contrast defects alone never teach it.

Each generator takes an RGB uint8 image and a numpy Generator and returns
(image, bool mask); nothing here reads files.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..errors import ConfigError
from . import paint

KINDS = ("cut_paste", "noise_blob", "scratch", "region")

# Generic words a user might type for each kind: training pairs synthetic
# defects with these so the prompt pathway sees language for every shape.
# The held-out magnetic-tile class names ("crack", "uneven") are left out on
# purpose, so that evaluating with them tests unseen prompts honestly.
PROMPTS: dict[str, tuple[str, ...]] = {
    "cut_paste": ("foreign material", "contamination", "patch", "missing piece", "glue"),
    "noise_blob": ("stain", "spot", "discoloration", "hole", "dent", "rough surface"),
    "scratch": ("scratch", "line", "thread", "cut", "scrape"),
    "region": ("texture change", "worn area", "smudge", "different finish", "shading"),
}


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    """Zero-mean unit-std random field with features about ``scale`` px wide (cheap Perlin stand-in)."""
    h, w = shape
    small = (max(2, int(h / scale) + 2), max(2, int(w / scale) + 2))
    noise = rng.standard_normal(small).astype(np.float32)
    field = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


def _random_outline(shape: tuple[int, int], rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A filled random polygon (or ellipse) of about ``size`` (h, w), centred in ``shape``."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    cy, cx = h / 2, w / 2
    if rng.random() < 0.4:
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(mask, (int(cx), int(cy)), (max(1, size[1] // 2), max(1, size[0] // 2)), angle, 0, 360, 1, -1)
    else:
        n = int(rng.integers(5, 11))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.5, 1.0, n)
        pts = np.stack([cx + np.cos(angles) * radii * size[1] / 2, cy + np.sin(angles) * radii * size[0] / 2], 1)
        cv2.fillPoly(mask, [pts.round().astype(np.int32)], 1)
    return mask.astype(bool)


def cut_paste(image: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    donor = image if donor is None else donor
    h, w = image.shape[:2]
    side = min(h, w)
    ph = int(np.clip(rng.uniform(0.06, 0.3) * side * rng.uniform(0.6, 1.6), 8, h - 2))
    pw = int(np.clip(rng.uniform(0.06, 0.3) * side * rng.uniform(0.6, 1.6), 8, w - 2))
    dh, dw = donor.shape[:2]
    if dh <= ph or dw <= pw:
        donor = cv2.resize(donor, (max(dw, pw + 2), max(dh, ph + 2)))
        dh, dw = donor.shape[:2]
    sy, sx = int(rng.integers(0, dh - ph)), int(rng.integers(0, dw - pw))
    patch = donor[sy : sy + ph, sx : sx + pw].astype(np.float32)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    # A pasted piece of the same texture can be invisible; a visible change
    # of brightness or contrast keeps the label honest.
    gain = rng.uniform(0.6, 1.5)
    shift = rng.choice([-1, 1]) * rng.uniform(15, 60)
    patch = (patch - patch.mean()) * gain + patch.mean() + shift
    shape_mask = _random_outline((ph, pw), rng, (ph, pw))
    ty, tx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    out = image.astype(np.float32)
    region = out[ty : ty + ph, tx : tx + pw]
    region[shape_mask] = patch[shape_mask]
    mask = np.zeros((h, w), bool)
    mask[ty : ty + ph, tx : tx + pw] = shape_mask
    return np.clip(out, 0, 255).astype(np.uint8), mask


def noise_blob(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    side = min(h, w)
    scale = rng.uniform(0.04, 0.25) * side
    field = _smooth_field((h, w), rng, scale)
    # Keep one blob: the component around the field's maximum, inside a random window.
    size = (int(rng.uniform(0.05, 0.7) * h) + 4, int(rng.uniform(0.05, 0.7) * w) + 4)
    window = _random_outline((h, w), rng, size)
    shift = np.roll(np.roll(window, int(rng.integers(-h // 3, h // 3 + 1)), 0), int(rng.integers(-w // 3, w // 3 + 1)), 1)
    mask = (field > rng.uniform(0.0, 1.0)) & shift
    if mask.sum() < 12:
        mask = shift
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n > 2:
        keep = 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1][: int(rng.integers(1, 3))]
        mask = np.isin(labels, keep)
    texture = _smooth_field((h, w), rng, rng.uniform(1.5, 6.0))
    strength = rng.uniform(12, 70)
    sign = rng.choice([-1.0, 1.0], p=[0.65, 0.35])
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
    delta = sign * strength * (1.0 + 0.4 * texture)
    return paint.shift(image, alpha * delta), mask


def scratch(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    side = min(h, w)
    length = rng.uniform(0.15, 0.8) * side
    steps = max(4, int(length / 4))
    y, x = rng.uniform(0.1 * h, 0.9 * h), rng.uniform(0.1 * w, 0.9 * w)
    angle = rng.uniform(0, 2 * np.pi)
    turn = rng.uniform(0.0, 0.35)
    pts = [(x, y)]
    for _ in range(steps):
        angle += rng.normal(0, turn)
        x, y = x + 4 * np.cos(angle), y + 4 * np.sin(angle)
        pts.append((x, y))
    thickness = int(rng.choice([1, 2, 2, 3, 3, 4, 5]))
    mask = paint.stroke((h, w), pts, thickness) > 0
    if mask.sum() < 6:
        return noise_blob(image, rng)
    sign = rng.choice([-1.0, 1.0], p=[0.75, 0.25])
    strength = rng.uniform(30, 90)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)
    alpha = alpha / max(alpha.max(), 1e-6)
    return paint.shift(image, sign * strength * alpha), mask


def _large_region(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth-edged blob or band covering roughly 10-50 % of the image (largest components of a smooth field)."""
    h, w = shape
    side = min(h, w)
    field = _smooth_field((h, w), rng, rng.uniform(0.15, 0.45) * side)
    if rng.random() < 0.4:  # a band: stretch the field along one axis
        stretch = _smooth_field((h, w), rng, rng.uniform(0.5, 1.0) * side)
        coord = np.mgrid[:h, :w][int(rng.integers(2))] / max(h, w)
        field = 0.35 * field + 0.3 * stretch - 4 * np.abs(coord - rng.uniform(0.2, 0.8) * coord.max())
    target = rng.uniform(0.1, 0.5)
    mask = field > np.quantile(field, 1 - target)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n > 2:  # keep the biggest one or two pieces: one defect, not confetti
        keep = 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[::-1][: int(rng.integers(1, 3))]
        mask = np.isin(labels, keep)
    return mask


def region(image: np.ndarray, rng: np.random.Generator, donor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    mask = _large_region((h, w), rng)
    if mask.sum() < 12:
        return noise_blob(image, rng)
    base = image.astype(np.float32)
    mode = rng.choice(["texture", "finish", "shading"], p=[0.45, 0.3, 0.25])
    if mode == "texture":
        src = (image if donor is None else donor).astype(np.float32)
        src = np.rot90(src, k=int(rng.integers(1, 4))) if rng.random() < 0.7 else src[::-1]
        zoom = rng.uniform(0.6, 1.6)
        src = cv2.resize(np.ascontiguousarray(src), (max(w, int(src.shape[1] * zoom)), max(h, int(src.shape[0] * zoom))))
        y0, x0 = int(rng.integers(0, src.shape[0] - h + 1)), int(rng.integers(0, src.shape[1] - w + 1))
        content = src[y0 : y0 + h, x0 : x0 + w]
        # match the local brightness so the area differs by texture, not by a plain step
        content = content - content.mean() + base[mask].mean() + rng.uniform(-12, 12)
    elif mode == "finish":
        blurred = cv2.GaussianBlur(base, (0, 0), rng.uniform(1.0, 3.0))
        content = blurred if rng.random() < 0.5 else base + rng.uniform(0.8, 2.0) * (base - blurred)  # smeared or roughened
    else:
        content = base + rng.choice([-1.0, 1.0]) * rng.uniform(8, 25) * (1.0 + 0.3 * _smooth_field((h, w), rng, 4.0))[..., None]
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), rng.uniform(1.5, 5.0))[..., None]
    out = base * (1 - alpha) + content * alpha
    return np.clip(out, 0, 255).astype(np.uint8), mask


GENERATORS: dict[str, Callable] = {"cut_paste": cut_paste, "noise_blob": noise_blob, "scratch": scratch, "region": region}
DONOR_KINDS = ("cut_paste", "region")  # these take their new surface from a donor image


def synthesize(
    image: np.ndarray, rng: np.random.Generator, kind: str | None = None, donor: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """One synthetic defect on ``image``: (image, mask, kind). ``kind`` None picks one at random."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ConfigError(f"synthesize needs an RGB uint8 HxWx3 image, got {image.dtype} {image.shape}")
    kind = kind or str(rng.choice(KINDS))
    if kind not in GENERATORS:
        raise ConfigError(f"unknown synthetic anomaly kind {kind!r}; choose from {KINDS}")
    out, mask = GENERATORS[kind](image, rng, donor) if kind in DONOR_KINDS else GENERATORS[kind](image, rng)
    return out, mask, kind
