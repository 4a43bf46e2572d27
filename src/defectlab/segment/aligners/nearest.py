"""Nearest-neighbour matching: each segment on its own to its closest reference part.

Cheaper and simpler than Hungarian, and blind to one-to-one structure: two
pins both nearest to the same reference pin share its class. Segments whose
cost is beyond ``gate`` from every reference part (on appearance and on
layout) are unknown.
"""

from __future__ import annotations

import numpy as np

from .base import (
    Aligner, ClassMap, NotFittedAlignerError, SegmentStats, View, absorb_fragments, paint, segment_stats,
)
from .cost import MatchCost


class NearestAligner(Aligner):
    name = "nearest"

    def __init__(self, cost: MatchCost | None = None, **cost_kwargs):
        self.cost = cost or MatchCost(**cost_kwargs)
        self.reference: SegmentStats | None = None

    def fit(self, reference: View) -> "NearestAligner":
        self.reference = segment_stats(reference)
        self.cost.calibrate(self.reference)
        return self

    def align(self, view: View) -> ClassMap:
        if self.reference is None:
            raise NotFittedAlignerError("call fit(reference) before align()")
        stats = segment_stats(view)
        n_ref = len(self.reference)
        if len(stats) == 0 or n_ref == 0:
            return paint(view.segmentation, {}, n_ref)
        total, allowed = self.cost.total(stats, self.reference)
        total = np.where(allowed, total, np.inf)
        assignment = {}
        for seg in range(len(stats)):
            best = int(np.argmin(total[seg]))
            if np.isfinite(total[seg, best]):
                assignment[seg + 1] = best + 1
        appearance = self.cost.appearance(stats, self.reference)
        assignment = absorb_fragments(view, stats, self.reference, assignment, appearance)
        return paint(view.segmentation, assignment, n_ref)
