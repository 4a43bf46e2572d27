"""Interactive segmentation metrics: IoU, NoC, NoF, mIoU@k."""

import numpy as np
import pytest

from defectlab.metrics import iou, miou_at_clicks, noc, noc_at


def test_iou_by_hand():
    pred = np.array([[1, 1, 0, 0]], bool)
    gt = np.array([[0, 1, 1, 0]], bool)
    assert iou(pred, gt) == pytest.approx(1 / 3)
    assert iou(gt, gt) == 1.0
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_iou_shape_mismatch_names_arguments():
    with pytest.raises(ValueError, match="pred_mask has shape .* gt_mask"):
        iou(np.zeros((2, 2), bool), np.zeros((2, 3), bool))


def test_noc_counts_clicks_to_first_reach():
    ious = [0.5, 0.82, 0.86, 0.84, 0.91]
    assert noc(ious, 0.8) == 2
    assert noc(ious, 0.85) == 3  # the later dip does not matter
    assert noc(ious, 0.9) == 5
    assert noc(ious, 0.95) == 20
    assert noc([0.9], 0.9) == 1  # reaching the threshold exactly counts


def test_noc_ignores_clicks_beyond_the_budget():
    ious = [0.1] * 5 + [0.95]
    assert noc(ious, 0.9, max_clicks=6) == 6
    assert noc(ious, 0.9, max_clicks=5) == 5


def test_noc_at_means_and_failures():
    sequences = [
        [0.85, 0.9, 0.95],  # 80: 1, 85: 1, 90: 2
        [0.5, 0.81, 0.86],  # 80: 2, 85: 3, 90: fail (3)
        [0.2, 0.3, 0.4],  # fails everywhere (3)
    ]
    result = noc_at(sequences, max_clicks=3)
    assert result["NoC@80"] == pytest.approx((1 + 2 + 3) / 3)
    assert result["NoC@85"] == pytest.approx((1 + 3 + 3) / 3)
    assert result["NoC@90"] == pytest.approx((2 + 3 + 3) / 3)
    assert (result["NoF@80"], result["NoF@85"], result["NoF@90"]) == (1, 1, 2)


def test_noc_at_failure_excludes_success_on_last_click():
    result = noc_at([[0.1, 0.9]], thresholds=(0.9,), max_clicks=2)
    assert result == {"NoC@90": 2.0, "NoF@90": 0}


def test_miou_at_clicks():
    sequences = [[0.5, 0.7, 0.9], [0.3, 0.5, 0.7]]
    assert miou_at_clicks(sequences, clicks=(1, 3)) == {"mIoU@1": pytest.approx(0.4), "mIoU@3": pytest.approx(0.8)}
    with pytest.raises(ValueError, match=r"iou_sequences\[0\] has fewer than 5 clicks"):
        miou_at_clicks(sequences, clicks=(5,))


def test_invalid_ious_are_rejected():
    with pytest.raises(ValueError, match="ious_per_click"):
        noc([0.5, np.nan], 0.8)
    with pytest.raises(ValueError, match=r"iou_sequences\[1\]"):
        noc_at([[0.5], [1.5]])
