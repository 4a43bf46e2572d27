"""How unlike two segments are, in units where 1 means "clearly different".

Both matchers (Hungarian and nearest) use these costs. Each term is divided by
a unit so that terms add up meaningfully:

- colour: CIELAB Delta-E / ``colour_unit`` (12, the segmenter's unit: well
  above lighting and print variation within a part), lightness divided by
  ``lightness_factor`` (CIE94's k_L, 1 by default, as in the segmenter);
- feature: cosine distance of mean backbone features / a unit taken from the
  reference itself: half the typical contrast between a part and the most
  different surface in view (median over parts, the background counted as a
  surface). Feature scales differ by backbone (EfficientNet vs DINOv2), so a
  fixed unit would be right for one and wrong for the other; the contrast to
  the *most* different surface is used because parts may all be alike
  (a box of identical pins);
- area: |log(area ratio)| / log 2 (one unit = twice or half as large);
- shape: |log(elongation ratio)| / log 1.25 (elongation from second moments:
  a circle 1, a 2:1 ellipse 2; colour-blind, so a recoloured part keeps its
  shape while a different part in its place, an ellipse for a circle, does
  not);
- position: centroid distance / ``position_unit`` (0.1 of the image side:
  parts on a line jitter by a few percent, a misplaced one moves further).

A segment can be a reference part for either of two reasons: it looks like
it (``appearance``: colour and texture; a part that moved, was swapped, or
is an extra copy) or it sits like it (``layout``: same place, size and
shape; a part in its place whose colour changed, or a product variant of
another colour).
So the matching cost is the better of the two, plus a quarter of their sum
to break ties: among twelve identical pins (appearance equal) position
decides, and a part that both looks and sits right beats one that only does
one. Beyond ``gate`` on both cues, a segment cannot be that part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...errors import NotFittedError
from .base import Aligner, ClassMap, SegmentStats, View, paint, segment_stats


@dataclass
class MatchCost:
    colour_unit: float = 12.0
    lightness_factor: float = 1.0  # CIE94 k_L, as in the feature-cluster segmenter (2 was tried, see there)
    position_unit: float = 0.1
    area_weight: float = 0.5
    position_weight: float = 1.0
    shape_weight: float = 1.0
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
        diff = a.colour[:, None] - b.colour[None]
        diff[..., 0] /= self.lightness_factor
        colour = np.linalg.norm(diff, axis=-1) / self.colour_unit
        if a.feature.shape[1] > 1 and b.feature.shape[1] > 1:
            feature = _cosine(a.feature, b.feature) / self.unit
        else:
            feature = np.zeros_like(colour)
        return np.sqrt(colour**2 + feature**2)

    tie: float = 0.25

    def total(self, a: SegmentStats, b: SegmentStats) -> tuple[np.ndarray, np.ndarray]:
        """(matching cost, allowed) matrices, both (len(a), len(b)); see the module docstring."""
        app = self.appearance(a, b)
        lay = self.layout(a, b)
        best = np.minimum(app, lay)
        return best + self.tie * (app + lay), best <= self.gate

    def layout(self, a: SegmentStats, b: SegmentStats) -> np.ndarray:
        """(len(a), len(b)) size and position difference."""
        area = np.abs(np.log(np.maximum(a.area[:, None], 1e-6) / np.maximum(b.area[None], 1e-6))) / np.log(2)
        position = np.linalg.norm(a.centroid[:, None] - b.centroid[None], axis=-1) / self.position_unit
        cost = self.area_weight * area + self.position_weight * position
        if a.elongation is not None and b.elongation is not None:
            shape = np.abs(np.log(a.elongation[:, None] / b.elongation[None])) / np.log(1.25)
            cost = cost + self.shape_weight * shape
        return cost


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)


class CostAligner(Aligner):
    """Aligners that match a view's segments to the reference's parts by a :class:`MatchCost`.

    Holds what they share: the reference's segment statistics, the cost
    calibrated on them, and the empty cases; subclasses implement ``match``.
    """

    def __init__(self, cost: MatchCost | None = None, **cost_kwargs):
        self.cost = cost or MatchCost(**cost_kwargs)
        self.reference: SegmentStats | None = None

    def fit(self, reference: View, normals: Sequence[View] = ()) -> "CostAligner":
        self.reference = segment_stats(reference)
        self.cost.calibrate(self.reference)
        return self

    def align(self, view: View) -> ClassMap:
        if self.reference is None:
            raise NotFittedError("call fit(reference) before align()")
        stats = segment_stats(view)
        if len(stats) == 0 or len(self.reference) == 0:
            return paint(view.segmentation, {}, len(self.reference))
        return self.match(view, stats)

    def match(self, view: View, stats: SegmentStats) -> ClassMap:
        raise NotImplementedError
