"""What descriptors see (a :class:`Parse`) and what they return (a :class:`DescriptorScore`).

A parse is one image after the first two stages: resized to the working
size, backbone patch features, and a class map whose ids are shared with the
reference image. Every descriptor is fitted on the parses of the k normal
images (its memory bank) and scores a parse by its distance to them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ...errors import NotFittedError
from ...registry import Registry
from ...segment.aligners.base import ClassMap
from ...segment.base import coverage


@dataclass(eq=False)
class Parse:
    image: np.ndarray  # (H, W, 3) uint8 at the working size
    features: np.ndarray  # (h, w, D) float32 patch features
    classes: ClassMap  # (H, W) class ids: 0 background, 1..n reference parts, n + 1 unknown
    source: str = ""

    @property
    def n_classes(self) -> int:
        return self.classes.n_classes

    @property
    def unknown(self) -> int:
        return self.classes.unknown

    @property
    def grid(self) -> tuple[int, int]:
        return self.features.shape[:2]  # type: ignore[return-value]

    @cached_property
    def flat_features(self) -> np.ndarray:
        return np.ascontiguousarray(self.features.reshape(-1, self.features.shape[-1]), dtype=np.float32)

    @cached_property
    def coverage(self) -> np.ndarray:
        """(n + 2, h*w): share of each patch covered by each class id 0..unknown."""
        return coverage(self.classes.labels, self.unknown, self.grid)

    @cached_property
    def patch_classes(self) -> np.ndarray:
        """(h*w,) the class covering most of each patch."""
        return self.coverage.argmax(0)

    @cached_property
    def lab(self) -> np.ndarray:
        """(H, W, 3) float32 CIELAB of the image."""
        from ...segment.base import to_lab

        return to_lab(self.image)

    @cached_property
    def areas(self) -> np.ndarray:
        """(n + 2,) fraction of the image per class id 0..unknown."""
        counts = np.bincount(self.classes.labels.ravel(), minlength=self.unknown + 1)[: self.unknown + 1]
        return counts / self.classes.labels.size


@dataclass
class DescriptorScore:
    """A descriptor's verdict on one image.

    ``value`` is the raw dissimilarity (higher = more anomalous). ``cls`` and
    ``reason`` say which class drove it and why, for logical descriptors.
    ``patch_map`` (h, w) or ``region`` (H, W) say where, when it can be drawn.
    """

    value: float
    cls: int | None = None
    reason: str = ""
    patch_map: np.ndarray | None = None
    region: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class Descriptor(ABC):
    """One way of describing an image against the normal ones; registered in ``DESCRIPTORS``.

    ``kind`` is "structural" (local appearance) or "logical" (composition).
    ``unit`` is the fixed fusion weight used when there is only one normal
    image and no leave-one-out is possible: the raw value that counts as one
    unit of anomaly (see :mod:`defectlab.detect.fusion`).
    """

    name: str = "descriptor"
    kind: str = "structural"
    unit: float = 1.0

    @abstractmethod
    def fit(self, parses: list[Parse]) -> "Descriptor":
        """Build the memory bank from the parses of normal images."""

    @abstractmethod
    def score(self, parse: Parse) -> DescriptorScore:
        """Dissimilarity of one parse to the memory bank."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _check_fitted(self, bank) -> None:
        if bank is None:
            raise NotFittedError(f"{self.name}: call fit() first")


DESCRIPTORS: Registry[Descriptor] = Registry("descriptor")


def top_percent_mean(values: np.ndarray, percent: float) -> float:
    """Mean of the largest ``percent`` % of values (at least one)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return 0.0
    n = max(1, int(np.ceil(flat.size * percent / 100.0)))
    return float(np.partition(flat, flat.size - n)[flat.size - n :].mean())


def class_name(parse: Parse, cls: int) -> str:
    if cls == 0:
        return "background"
    if cls == parse.unknown:
        return "unknown parts"
    return f"{parse.classes.noun} {cls}"
