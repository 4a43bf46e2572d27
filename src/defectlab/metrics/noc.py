"""Interactive segmentation metrics: how many clicks until the mask is good?

A click-based labeller (such as ADClick) is judged by the effort it saves.
The standard protocol (RITM, FocalClick, SAM-style evaluations) simulates a
user who keeps clicking on the largest error and records the IoU after
every click. From those per-object IoU sequences:

- NoC@85 is the mean number of clicks needed to first reach IoU >= 0.85,
  counting `max_clicks` (20) for objects that never get there;
- NoF@85 counts those failures, which the capped mean hides;
- mIoU@k is the mean IoU after k clicks, for a fixed budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import ConfigError
from ._checks import binary_masks, same_shape


def iou(pred_mask, gt_mask) -> float:
    """Intersection over union of two binary masks.

    Two empty masks agree perfectly, so they score 1.0 rather than 0/0.
    """
    pred = binary_masks("pred_mask", pred_mask)
    gt = binary_masks("gt_mask", gt_mask)
    same_shape("pred_mask", pred, "gt_mask", gt)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def noc(ious_per_click, threshold: float, max_clicks: int = 20) -> int:
    """Clicks needed to first reach IoU >= `threshold`, or `max_clicks`.

    `ious_per_click[i]` is the IoU after click i + 1. Only the first
    `max_clicks` entries count, so a longer run cannot rescue a failure.
    """
    _check_max_clicks(max_clicks)
    ious = _iou_sequence("ious_per_click", ious_per_click)[:max_clicks]
    reached = np.flatnonzero(ious >= threshold)
    return int(reached[0]) + 1 if reached.size else max_clicks


def noc_at(
    iou_sequences: Iterable, thresholds: Sequence[float] = (0.8, 0.85, 0.9), max_clicks: int = 20
) -> dict[str, float | int]:
    """Mean NoC and failure count at each IoU threshold.

    Returns:
        {"NoC@80": mean clicks, "NoF@80": objects that never reached 0.8
        within `max_clicks`, ...}, one pair per threshold. A failure is an
        object that never reaches the threshold; RITM's "over max" count
        also includes objects that reach it exactly at the last click.
    """
    _check_max_clicks(max_clicks)
    sequences = [_iou_sequence(f"iou_sequences[{i}]", s)[:max_clicks] for i, s in enumerate(iou_sequences)]
    if not sequences:
        raise ConfigError("iou_sequences is empty")
    result: dict[str, float | int] = {}
    for threshold in thresholds:
        name = _percent(threshold)
        result[f"NoC@{name}"] = float(np.mean([noc(ious, threshold, max_clicks) for ious in sequences]))
        result[f"NoF@{name}"] = sum(1 for ious in sequences if not (ious >= threshold).any())
    return result


def miou_at_clicks(iou_sequences: Iterable, clicks: Sequence[int] = (1, 3, 5)) -> dict[str, float]:
    """Mean IoU over objects after exactly k clicks, for each k in `clicks`.

    Returns {"mIoU@1": ..., "mIoU@3": ..., ...}. Every sequence must reach
    k clicks: padding a run that stopped early would invent IoUs.
    """
    sequences = [_iou_sequence(f"iou_sequences[{i}]", s) for i, s in enumerate(iou_sequences)]
    if not sequences:
        raise ConfigError("iou_sequences is empty")
    result = {}
    for k in clicks:
        if k < 1:
            raise ConfigError(f"clicks must be >= 1, got {k}")
        too_short = [i for i, ious in enumerate(sequences) if ious.size < k]
        if too_short:
            raise ConfigError(f"iou_sequences[{too_short[0]}] has fewer than {k} clicks")
        result[f"mIoU@{k}"] = float(np.mean([ious[k - 1] for ious in sequences]))
    return result


def _iou_sequence(name: str, values) -> np.ndarray:
    ious = np.asarray(values, dtype=np.float64)
    if ious.ndim != 1:
        raise ConfigError(f"{name} must be a 1-D sequence of IoUs, got shape {ious.shape}")
    if not np.isfinite(ious).all() or ((ious < 0) | (ious > 1)).any():
        raise ConfigError(f"{name} must hold IoUs in [0, 1] with no NaN")
    return ious


def _check_max_clicks(max_clicks: int) -> None:
    if max_clicks < 1:
        raise ConfigError(f"max_clicks must be >= 1, got {max_clicks}")


def _percent(threshold: float) -> str:
    # 0.85 * 100 is 85.00000000000001 in floating point; :g prints "85".
    return f"{threshold * 100:g}"
