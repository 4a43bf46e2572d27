"""The segmenter interface: an RGB image in, a label map of parts out.

A :class:`Segmentation` is a label map: 0 is background, 1..n are parts.
Segments are per image and carry no meaning across images; giving them
consistent class ids is the aligner's job (:mod:`defectlab.segment.aligners`).

Background, as in the reference method, is what touches two image edges: the
tray, the table, the conveyor. A part may touch one edge (it was cut by the
frame); the surface it lies on touches at least two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage


@dataclass
class Segmentation:
    """Parts of one image: ``labels`` (H, W) int32, 0 = background, 1..n = parts."""

    labels: np.ndarray
    source: str = ""  # the segmenter that made it
    info: dict = field(default_factory=dict)  # segmenter-specific numbers (masks kept, scores ...)

    def __post_init__(self):
        if self.labels.ndim != 2:
            raise ValueError(f"labels must be an (H, W) map, got shape {self.labels.shape}")
        self.labels = self.labels.astype(np.int32, copy=False)

    @property
    def n_segments(self) -> int:
        return int(self.labels.max(initial=0))

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def masks(self) -> list[np.ndarray]:
        """One boolean mask per part, in label order (1..n)."""
        return [self.labels == i for i in range(1, self.n_segments + 1)]

    @classmethod
    def from_masks(cls, masks: list[np.ndarray], shape: tuple[int, int], source: str = "", **info) -> "Segmentation":
        """Paint overlapping masks largest first, so a small part on a large one stays visible."""
        labels = np.zeros(shape, np.int32)
        for i, m in enumerate(sorted(masks, key=lambda m: -int(m.sum())), start=1):
            labels[m] = i
        return cls(relabel(labels), source, dict(info))


class Segmenter(ABC):
    """Splits an image into parts. Subclasses set ``name`` and implement :meth:`segment`."""

    name: str = "segmenter"

    @abstractmethod
    def segment(self, image: np.ndarray) -> Segmentation:
        """Parts of a uint8 (H, W, 3) image, as a label map of the same size."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -- helpers shared by segmenters ----------------------------------------------
def relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive ids 1..n in order of first appearance (raster order), 0 kept."""
    ids = np.unique(labels[labels > 0])
    if len(ids) == 0:
        return np.zeros_like(labels, dtype=np.int32)
    first = [np.flatnonzero(labels.ravel() == i)[0] for i in ids]
    order = ids[np.argsort(first)]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[order] = np.arange(1, len(order) + 1)
    return lut[labels]


def edges_touched(mask: np.ndarray, min_fraction: float = 0.05) -> int:
    """How many image edges a mask touches along at least ``min_fraction`` of their length.

    A part grazing the frame at a corner pixel does not count as touching it.
    """
    h, w = mask.shape
    sides = (mask[0].sum() / w, mask[-1].sum() / w, mask[:, 0].sum() / h, mask[:, -1].sum() / h)
    return sum(s >= min_fraction for s in sides)


def is_background(mask: np.ndarray) -> bool:
    return edges_touched(mask) >= 2


def remove_small(labels: np.ndarray, min_pixels: int) -> np.ndarray:
    """Segments under ``min_pixels`` become background."""
    counts = np.bincount(labels.ravel())
    small = np.flatnonzero(counts < min_pixels)
    small = small[small > 0]
    if len(small):
        labels = np.where(np.isin(labels, small), 0, labels)
    return relabel(labels)


def adjacency(labels: np.ndarray) -> set[tuple[int, int]]:
    """Pairs (a, b), a < b, of labels that share a 4-neighbour border."""
    pairs = set()
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        diff = a != b
        lo = np.minimum(a[diff], b[diff])
        hi = np.maximum(a[diff], b[diff])
        pairs |= set(zip(lo.tolist(), hi.tolist()))
    return pairs


def fill_holes_per_segment(labels: np.ndarray) -> np.ndarray:
    """Background specks enclosed by a single part belong to that part."""
    holes = ndimage.binary_fill_holes(labels > 0) & (labels == 0)
    if not holes.any():
        return labels
    _, idx = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    filled = labels.copy()
    filled[holes] = labels[idx[0][holes], idx[1][holes]]
    return filled


def coverage(labels: np.ndarray, n: int, grid: tuple[int, int]) -> np.ndarray:
    """(n + 1, gh * gw): the fraction of each grid cell covered by each label 0..n.

    Area-weighted, so a part smaller than a patch still gets its share: this is
    how pixel-accurate segments meet stride-8 or stride-14 feature maps.
    """
    import cv2

    gh, gw = grid
    out = np.empty((n + 1, gh * gw), np.float32)
    for i in range(n + 1):
        m = (labels == i).astype(np.float32)
        out[i] = cv2.resize(m, (gw, gh), interpolation=cv2.INTER_AREA).ravel()
    return out


def to_lab(image: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIELAB (L in [0, 100], a and b about [-128, 127]), D65 as in scikit-image."""
    import cv2

    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
