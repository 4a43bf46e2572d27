"""The detector contract every method follows (scikit-learn style).

``fit(normal_images)`` learns from a few normal images; ``predict(images)``
returns one :class:`Prediction` per image. Images are anything
:func:`defectlab.data.load_image` accepts: paths, PIL images or arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np


@dataclass
class Prediction:
    """Result for one image: a scalar score (higher = more anomalous) and a
    per-pixel anomaly map at the image's own resolution."""

    score: float
    anomaly_map: np.ndarray  # (H, W) float32
    source: str = ""  # file name, or "" for in-memory images
    details: dict[str, Any] = field(default_factory=dict)  # method-specific explanations


class NotFittedError(RuntimeError):
    pass


class Detector:
    """Base class: subclasses implement ``fit`` and ``predict``."""

    def fit(self, normal_images: Sequence) -> "Detector":
        raise NotImplementedError

    def predict(self, images: Sequence) -> list[Prediction]:
        raise NotImplementedError

    def normal_scores(self) -> list[float]:
        """Each normal image of the last fit scored against the others
        (leave-one-out), from what fit() computed; [] with fewer than two.
        Their maximum is a label-free flagging threshold."""
        raise NotImplementedError

    def predict_one(self, image) -> Prediction:
        return self.predict([image])[0]


def source_name(image) -> str:
    return str(image) if isinstance(image, (str, Path)) else ""
