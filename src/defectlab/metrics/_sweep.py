"""Exact threshold sweep: cumulative totals at every distinct score.

The region-overlap curves (PRO, sPRO) are defined per threshold. Evaluating
them at a fixed grid of thresholds is an approximation whose error depends on
how the scores are spread, and the official MVTec LOCO code refines such a
grid adaptively for the same reason. Sorting once instead gives the curve
exactly: lowering the threshold past a score turns every pixel with that
score positive, so each curve value is a running sum over the sorted pixels,
read off where the score changes. This is how the official MVTec AD code
computes its PRO curve.
"""

from __future__ import annotations

import numpy as np


def cumulative_at_thresholds(scores: np.ndarray, *weights: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sweep a threshold from the highest score down.

    Args:
        scores: 1-D array of scores; an item counts as positive when its score
            is >= the threshold.
        *weights: 1-D arrays aligned with `scores` (booleans count as 0/1).

    Returns:
        thresholds: the distinct scores, descending.
        totals: for each weight array, the summed weight of all items scoring
            >= each threshold (same length as `thresholds`).
    """
    # Order within a run of equal scores does not matter: only the totals
    # after the whole run are read, so the fastest (unstable) sort is fine.
    order = np.argsort(scores)[::-1]
    sorted_scores = scores[order]

    # A threshold's totals are complete only after the last item holding that
    # score, so keep the end of each run of equal scores.
    run_ends = np.flatnonzero(sorted_scores[:-1] != sorted_scores[1:])
    run_ends = np.append(run_ends, sorted_scores.size - 1)

    totals = []
    for weight in weights:
        weight = np.asarray(weight)
        accumulate_as = np.float64 if np.issubdtype(weight.dtype, np.floating) else np.int64
        running = np.cumsum(weight[order], dtype=accumulate_as)
        totals.append(running[run_ends])
    return sorted_scores[run_ends], totals
