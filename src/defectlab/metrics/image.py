"""Image-level detection metrics: is this part defective at all?

Each image has one anomaly score and one label (1 = anomalous). The scores
need no calibration: AUROC and AP are threshold-free, and F1-max reports
the best threshold it found, so detectors with different score scales
compare directly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from ..errors import ConfigError
from ._checks import binary_labels, both_classes, finite_scores, same_shape, some_anomalous


class F1Max(NamedTuple):
    """The best F1 over all thresholds, and where it is reached.

    An image is predicted anomalous when its score is >= `threshold`;
    `precision` and `recall` are those of that prediction.
    """

    f1: float
    threshold: float
    precision: float
    recall: float


def image_auroc(labels, scores) -> float:
    """Area under the ROC curve: the chance that a random anomalous image
    scores higher than a random normal one (ties count half)."""
    labels, scores = _image_inputs(labels, scores)
    both_classes("labels", labels, "samples")
    return float(roc_auc_score(labels, scores))


def image_ap(labels, scores) -> float:
    """Average precision: sum over recall steps of (recall gain x precision).

    This is scikit-learn's step-wise AP, not a trapezoid under the PR curve;
    the trapezoid interpolates precision linearly, which overstates it.
    """
    labels, scores = _image_inputs(labels, scores)
    some_anomalous("labels", labels, "samples", "average precision")
    return float(average_precision_score(labels, scores))


def f1_max(labels, scores) -> F1Max:
    """Maximum of 2PR / (P + R) over every threshold of the PR curve.

    Same definition as anomalib's F1Max: every distinct score is a candidate
    threshold, and ties between thresholds go to the lowest one (the first
    maximum of the ascending curve, as torch.argmax picks it). anomalib adds
    1e-10 to the denominator; we divide exactly and define F1 = 0 where
    P + R = 0, which changes results by at most ~1e-10.
    """
    labels, scores = _image_inputs(labels, scores)
    some_anomalous("labels", labels, "samples", "F1")
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    # The curve ends with a (precision=1, recall=0) point that no threshold
    # produces; it has F1 = 0 anyway, so drop it to keep arrays aligned.
    precision, recall = precision[:-1], recall[:-1]
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    best = int(np.argmax(f1))
    return F1Max(
        f1=float(f1[best]),
        threshold=float(thresholds[best]),
        precision=float(precision[best]),
        recall=float(recall[best]),
    )


def f1_floor(labels) -> float:
    """F1 of calling every image anomalous: 2p / (1 + p), p = anomalous share.

    F1-max can never fall below this, because "everything is anomalous" is
    one of the thresholds it tries. When anomalies outnumber normal images
    (p = 0.8 gives 0.89), a high F1-max may mean nothing; report this beside it.
    """
    labels = binary_labels("labels", labels)
    some_anomalous("labels", labels, "samples", "F1")
    share = float(np.count_nonzero(labels)) / labels.size
    return 2 * share / (1 + share)


def _image_inputs(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    labels = binary_labels("labels", labels)
    scores = finite_scores("scores", scores)
    # One score per image; 2-D input usually means per-pixel maps passed by mistake.
    if labels.ndim != 1:
        raise ConfigError(f"labels must be 1-D (one label per image), got shape {labels.shape}")
    same_shape("labels", labels, "scores", scores)
    return labels, scores
