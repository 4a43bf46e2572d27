"""The aligner interface: consistent class ids for parts across images.

A segmenter's ids mean nothing outside their image. An aligner is fitted on a
reference image (by default the first of the k shots) whose parts define the
classes 1..n, and maps every other image onto them, giving a
:class:`ClassMap`: 0 background, 1..n the reference's parts, n + 1 "unknown"
(a part that looks like nothing in the reference).

Two families plug in here:

- matchers (:mod:`.hungarian`, :mod:`.nearest`) compare the segments of the
  new image with the reference's segments by a few per-segment numbers
  (:class:`SegmentStats`);
- propagators (:mod:`.propagator`) carry the reference's masks into the new
  image with a video-object-segmentation model, as the reference method did
  with DeAOT; they need no segmentation of the new image, but use it when
  given to mark parts they did not reach as unknown.

Subclass :class:`Aligner` (``fit`` + ``align``) and register the class in
:mod:`defectlab.segment.registry` to add one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ..base import Segmentation, coverage


@dataclass
class View:
    """What an aligner may look at: the image, its parts, and backbone patch features."""

    image: np.ndarray  # (H, W, 3) uint8, at the working size
    segmentation: Segmentation  # (H, W) labels
    features: np.ndarray | None = None  # (h, w, D) patch features, or None


@dataclass
class ClassMap:
    """Class ids per pixel: 0 background, 1..n_classes reference parts, n_classes + 1 unknown."""

    labels: np.ndarray  # (H, W) int32
    n_classes: int
    assignment: dict[int, int] = field(default_factory=dict)  # segment id -> class id

    @property
    def unknown(self) -> int:
        return self.n_classes + 1


@dataclass
class SegmentStats:
    """Per-segment numbers a matcher compares (row i = segment i + 1)."""

    feature: np.ndarray  # (n, D) unit mean backbone feature (zeros when no features)
    colour: np.ndarray  # (n, 3) mean CIELAB
    area: np.ndarray  # (n,) fraction of the image
    centroid: np.ndarray  # (n, 2) (x, y) in [0, 1]
    background: np.ndarray | None = None  # (D,) unit mean feature of the background, if any

    def __len__(self) -> int:
        return len(self.area)


def segment_stats(view: View) -> SegmentStats:
    from ..feature_cluster import to_lab

    labels = view.segmentation.labels
    n = view.segmentation.n_segments
    h, w = labels.shape
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1).astype(np.float64)[1:]
    safe = np.maximum(counts, 1)
    lab = to_lab(view.image).reshape(-1, 3).astype(np.float64)
    colour = np.stack([np.bincount(flat, lab[:, c], minlength=n + 1)[1:] for c in range(3)], 1) / safe[:, None]
    yy, xx = np.mgrid[0:h, 0:w]
    cx = np.bincount(flat, (xx.ravel() + 0.5) / w, minlength=n + 1)[1:] / safe
    cy = np.bincount(flat, (yy.ravel() + 0.5) / h, minlength=n + 1)[1:] / safe
    if view.features is not None and n:
        gh, gw, d = view.features.shape
        cov = coverage(labels, n, (gh, gw))  # (n + 1, gh*gw), row 0 background
        feat = cov @ view.features.reshape(-1, d).astype(np.float64)
        feat /= np.maximum(np.linalg.norm(feat, axis=1, keepdims=True), 1e-8)
        background = feat[0] if cov[0].sum() > 0 else None
        feat = feat[1:]
    else:
        feat, background = np.zeros((n, 1)), None
    return SegmentStats(feat, colour, counts / (h * w), np.stack([cx, cy], 1), background)


class Aligner(ABC):
    """Maps the parts of any image onto the classes of a reference image."""

    name: str = "aligner"

    @abstractmethod
    def fit(self, reference: View) -> "Aligner":
        """Take the reference's parts as the classes 1..n."""

    @abstractmethod
    def align(self, view: View) -> ClassMap:
        """Class map of an image (the reference itself maps onto itself)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NotFittedAlignerError(RuntimeError):
    pass


def paint(segmentation: Segmentation, assignment: dict[int, int], n_classes: int) -> ClassMap:
    """Class map from a segment -> class assignment (unassigned segments are unknown)."""
    lut = np.full(segmentation.n_segments + 1, n_classes + 1, np.int32)
    lut[0] = 0
    for seg, cls in assignment.items():
        lut[seg] = cls
    return ClassMap(lut[segmentation.labels], n_classes, dict(assignment))
