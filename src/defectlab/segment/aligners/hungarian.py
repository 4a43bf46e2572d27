"""Hungarian matching of segments to the reference's parts.

One-to-one assignment minimising the matching cost of :mod:`.cost` (a
segment is a part if it looks like it or sits like it), so that twelve
identical pins map to twelve classes by position, a part that moved keeps
its class by appearance, and a part that changed colour keeps it by place.

Rule for what matches nothing, explicitly:

1. a pair beyond ``gate`` on both appearance and layout is never matched;
2. a reference part left without a segment stays empty in the class map (a
   missing part: its class has zero area);
3. a segment left without a reference part joins the class it looks most
   like, if within ``gate`` (another one of a known part, or a piece of an
   over-segmented part: the class's area grows), else the unknown class
   (something new: its area counts against the image);
4. except fragments: a leftover smaller than half the smallest reference
   part that touches a matched segment joins it (see
   :func:`.base.absorb_fragments`);
5. and merged look-alikes: when a reference part is left empty while a
   segment matched to a look-alike part is half again too large, that
   segment is two touching parts and is split between the two classes
   (see :func:`.base.split_merged`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..registry import ALIGNERS
from .base import ClassMap, SegmentStats, View, absorb_fragments, paint, split_merged
from .cost import CostAligner

FORBIDDEN = 1e6


@ALIGNERS.register("hungarian")
class HungarianAligner(CostAligner):
    name = "hungarian"

    def match(self, view: View, stats: SegmentStats) -> ClassMap:
        n_ref = len(self.reference)
        appearance = self.cost.appearance(stats, self.reference)
        total, allowed = self.cost.total(stats, self.reference)
        total = np.where(allowed, total, FORBIDDEN)
        rows, cols = linear_sum_assignment(total)
        assignment = {int(r) + 1: int(c) + 1 for r, c in zip(rows, cols) if total[r, c] < FORBIDDEN}
        for seg in range(len(stats)):
            if seg + 1 not in assignment:
                best = int(np.argmin(appearance[seg]))
                if appearance[seg, best] <= self.cost.gate:
                    assignment[seg + 1] = best + 1
        assignment = absorb_fragments(view, stats, self.reference, assignment, appearance)
        view, assignment = split_merged(view, stats, self.reference, assignment, self.cost.gate, self.cost)
        return paint(view.segmentation, assignment, n_ref)
