"""Nearest-neighbour matching: each segment on its own to its closest reference part.

Cheaper and simpler than Hungarian, and blind to one-to-one structure: two
pins both nearest to the same reference pin share its class. Segments whose
cost is beyond ``gate`` from every reference part (on appearance and on
layout) are unknown.
"""

from __future__ import annotations

import numpy as np

from ..registry import ALIGNERS
from .base import ClassMap, SegmentStats, View, absorb_fragments, paint
from .cost import CostAligner


@ALIGNERS.register("nearest")
class NearestAligner(CostAligner):
    name = "nearest"

    def match(self, view: View, stats: SegmentStats) -> ClassMap:
        n_ref = len(self.reference)
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
