"""Pixel-level localisation metrics: every pixel of every image is a sample.

Pooling pixels over the whole test set is the MVTec AD convention. It
weights large defects more than small ones (a 10,000-pixel scratch counts
100 times a 100-pixel dent); AUPRO (see pro.py) exists to correct that.

The definitions are scikit-learn's roc_auc_score and average_precision_score
on the flattened arrays (the tests check the two agree), computed with the
same one-sort threshold sweep as AUPRO. A 256x256 test set of 1,000 images
is 65M pixels; scikit-learn's input validation and stable sort take several
times longer on that than one quicksort, and its running sums are float64
copies. Here the peak is about 25 bytes per pixel, the sort index included.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ._checks import binary_masks, both_classes, finite_scores, same_shape, some_anomalous
from ._sweep import cumulative_at_thresholds


def pixel_auroc(masks, maps) -> float:
    """ROC AUC over all pixels of `maps` (N, H, W) against `masks` (N, H, W)."""
    is_defect, scores = _flat_pixels(masks, maps)
    both_classes("masks", is_defect, "pixels")
    _, (true_positives, false_positives) = cumulative_at_thresholds(scores, is_defect, ~is_defect)
    # The ROC curve starts at (0, 0), the threshold above every score.
    tpr = np.concatenate(([0.0], true_positives / true_positives[-1]))
    fpr = np.concatenate(([0.0], false_positives / false_positives[-1]))
    return float(np.trapezoid(tpr, fpr))


def pixel_ap(masks, maps) -> float:
    """Average precision over all pixels: sum over thresholds of
    (recall gained) x (precision there), scikit-learn's step-wise AP."""
    is_defect, scores = _flat_pixels(masks, maps)
    some_anomalous("masks", is_defect, "pixels", "average precision")
    _, (true_positives, flagged) = cumulative_at_thresholds(scores, is_defect, np.ones_like(is_defect))
    precision = true_positives / flagged
    recall_gain = np.diff(true_positives, prepend=0) / true_positives[-1]
    return float(np.sum(recall_gain * precision))


def _flat_pixels(masks, maps) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(masks, np.ndarray) and isinstance(maps, (list, tuple)):
        # Per-image lists whose sizes may differ: pool their pixels.
        if len(masks) != len(maps):
            raise ConfigError(f"masks has {len(masks)} images but maps has {len(maps)}")
        pairs = [_flat_pixels(np.asarray(m), np.asarray(s)) for m, s in zip(masks, maps)]
        return np.concatenate([d for d, _ in pairs]), np.concatenate([s for _, s in pairs])
    is_defect = binary_masks("masks", masks)
    scores = finite_scores("maps", maps)
    same_shape("masks", is_defect, "maps", scores)
    # ravel() is a free view for contiguous arrays, a copy otherwise. Scores
    # keep their dtype: narrowing float64 to float32 would merge nearly-equal
    # scores into ties and change the result.
    return is_defect.ravel(), scores.ravel()
