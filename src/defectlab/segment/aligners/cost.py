"""How unlike two segments are, in units where 1 means "clearly different".

Both matchers (Hungarian and nearest) use these costs. Each term is divided by
a unit so that terms add up meaningfully:

- colour: CIELAB Delta-E / ``colour_unit`` (12, the segmenter's unit: well
  above lighting and print variation within a part);
- feature: cosine distance of mean backbone features / a unit taken from the
  reference itself: half the typical contrast between a part and the most
  different surface in view (median over parts, the background counted as a
  surface). Feature scales differ by backbone (EfficientNet vs DINOv2), so a
  fixed unit would be right for one and wrong for the other; the contrast to
  the *most* different surface is used because parts may all be alike
  (a box of identical pins);
- area: |log(area ratio)| / log 2 (one unit = twice or half as large);
- position: centroid distance / ``position_unit`` (0.1 of the image side:
  parts on a line jitter by a few percent, a misplaced one moves further).

``appearance`` (colour and feature) decides whether two segments can be the
same part at all: above ``gate`` they cannot. Area and position only choose
among look-alikes (which of twelve identical pins is which).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import SegmentStats


@dataclass
class MatchCost:
    colour_unit: float = 12.0
    position_unit: float = 0.1
    area_weight: float = 0.5
    position_weight: float = 1.0
    gate: float = 2.0
    feature_unit: float | None = None  # None: calibrated on the reference (see the module docstring)
    min_feature_unit: float = 0.02

    def calibrate(self, reference: SegmentStats) -> "MatchCost":
        if self.feature_unit is None:
            self._unit = 0.1
            surfaces = reference.feature
            if reference.background is not None:
                surfaces = np.concatenate([surfaces, reference.background[None]])
            if len(reference) >= 1 and len(surfaces) >= 2 and surfaces.shape[1] > 1:
                contrast = _cosine(reference.feature, surfaces).max(1)
                self._unit = max(self.min_feature_unit, 0.5 * float(np.median(contrast)))
        else:
            self._unit = self.feature_unit
        return self

    @property
    def unit(self) -> float:
        return getattr(self, "_unit", self.feature_unit or 0.1)

    def appearance(self, a: SegmentStats, b: SegmentStats) -> np.ndarray:
        """(len(a), len(b)) colour and texture difference."""
        colour = np.linalg.norm(a.colour[:, None] - b.colour[None], axis=-1) / self.colour_unit
        if a.feature.shape[1] > 1 and b.feature.shape[1] > 1:
            feature = _cosine(a.feature, b.feature) / self.unit
        else:
            feature = np.zeros_like(colour)
        return np.sqrt(colour**2 + feature**2)

    def layout(self, a: SegmentStats, b: SegmentStats) -> np.ndarray:
        """(len(a), len(b)) size and position difference."""
        area = np.abs(np.log(np.maximum(a.area[:, None], 1e-6) / np.maximum(b.area[None], 1e-6))) / np.log(2)
        position = np.linalg.norm(a.centroid[:, None] - b.centroid[None], axis=-1) / self.position_unit
        return self.area_weight * area + self.position_weight * position


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)
