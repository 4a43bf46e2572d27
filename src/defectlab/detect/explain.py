"""Explanations of a compositional prediction: text, anomaly map, class-map pictures.

Everything here reads :class:`~defectlab.detect.descriptors.DescriptorScore`
objects and the fusion weights; nothing is re-computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from .descriptors.base import DescriptorScore, Parse


@dataclass
class DescriptorDetail:
    """One descriptor's part in a prediction."""

    score: float  # normalised: 1.0 is the highest a normal shot reached (leave-one-out)
    raw: float  # the descriptor's own units
    weight: float  # the normaliser, from the normal shots
    kind: str  # "structural" or "logical"
    cls: int | None  # the class (part) that drove a logical descriptor
    reason: str  # "class 3: area 0.0 % of the image, expected about 9 %: missing part"


@dataclass
class CompositionalDetails:
    """``Prediction.details`` of the compositional detector."""

    descriptors: dict[str, DescriptorDetail]
    explanation: str
    class_map: np.ndarray  # (h, w) aligned class ids at the working resolution
    n_classes: int
    unknown_class: int | None
    segments: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    # self-normalised group scores (1.0 = the most unusual normal shot's), what the fusion combines
    groups: dict[str, float] = field(default_factory=dict)


def anomaly_map(
    parse: Parse,
    scores: dict[str, DescriptorScore],
    weights: dict[str, float],
    shape: tuple[int, int],
    sigma: float = 4.0,
) -> np.ndarray:
    """(H, W) float32 map in normalised units, at the original image size ``shape``.

    Patch descriptors contribute their per-patch distance / weight; logical
    ones paint their normalised score over the class that drove it (and where
    the nearest normal image has that class, so a missing part lights up
    where it should have been). Same units as the image score: a normal
    image's map stays around 1 or below per descriptor.
    """
    hw = parse.classes.labels.shape
    total = np.zeros(hw, np.float32)
    for name, s in scores.items():
        w = weights[name]
        if s.patch_map is not None:
            total += cv2.resize(s.patch_map.astype(np.float32) / w, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
        elif s.region is not None and s.value > 0:
            total += s.region.astype(np.float32) * (s.value / w)
    if total.shape != tuple(shape):
        total = cv2.resize(total, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    if sigma > 0:
        total = cv2.GaussianBlur(total, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return total


def descriptor_details(scores: dict[str, DescriptorScore], weights: dict[str, float],
                       kinds: dict[str, str]) -> dict[str, DescriptorDetail]:
    """Per descriptor: normalised score, raw score, weight, class and reason."""
    return {
        name: DescriptorDetail(float(s.value / weights[name]), float(s.value), float(weights[name]),
                               kinds[name], s.cls, s.reason)
        for name, s in scores.items()
    }


def summary(details: dict[str, DescriptorDetail], groups: dict[str, float] | None = None) -> str:
    """One line: the descriptor that contributed most (within the group that scored highest), and why."""
    if not details:
        return ""
    pool = details
    head = ""
    if groups:
        group = max(groups, key=groups.get)
        pool = {n: d for n, d in details.items() if d.kind == group} or details
        head = f"{group} {groups[group]:.2f}x normal; "
    name, d = max(pool.items(), key=lambda kv: kv[1].score)
    return head + f"{name} {d.score:.2f}x normal" + (f": {d.reason}" if d.reason else "")


def save_class_maps(predictions: Iterable, out_dir: str | Path, images: Iterable[np.ndarray] | None = None,
                    names: Iterable[str] | None = None) -> list[Path]:
    """Write each prediction's class map as ``<name>_classes.png`` (colours fixed per class id).

    ``images`` (optional, same order) are blended underneath so parts can be
    recognised. Predictions without a class map (other methods) are skipped.
    """
    from ..segment.visualize import save_class_map

    out_dir = Path(out_dir)
    images = list(images) if images is not None else None
    names = list(names) if names is not None else None
    written = []
    for i, pred in enumerate(predictions):
        if not isinstance(pred.details, CompositionalDetails):
            continue
        labels = pred.details.class_map
        stem = names[i] if names else (Path(pred.source).stem if pred.source else f"image_{i:04d}")
        image = images[i] if images is not None else None
        unknown = pred.details.unknown_class
        written.append(save_class_map(out_dir / f"{stem}_classes.png", labels, unknown, image))
    return written
