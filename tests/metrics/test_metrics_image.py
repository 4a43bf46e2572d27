"""Image-level metrics: hand-worked cases and agreement with scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score

from defectlab.metrics import F1Max, f1_floor, f1_max, image_ap, image_auroc


def random_case(seed, n=200, anomalous_share=0.3):
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < anomalous_share
    # Overlapping but shifted distributions, rounded so that ties occur.
    scores = np.round(rng.normal(labels * 1.0, 1.0), 1)
    return labels.astype(int), scores


def test_auroc_perfect_reversed_and_tied():
    labels = [0, 0, 1, 1]
    assert image_auroc(labels, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert image_auroc(labels, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert image_auroc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_auroc_counts_pairs_by_hand():
    # Pairs (anomalous, normal): (0.6, 0.2) win, (0.6, 0.7) loss,
    # (0.9, 0.2) win, (0.9, 0.7) win -> 3 of 4.
    assert image_auroc([0, 0, 1, 1], [0.2, 0.7, 0.6, 0.9]) == pytest.approx(0.75)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_and_ap_match_sklearn(seed):
    labels, scores = random_case(seed)
    assert image_auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert image_ap(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_ap_by_hand():
    # Descending: 0.9 (1), 0.6 (0), 0.5 (1). Recall steps at 0.9 (P=1)
    # and at 0.5 (P=2/3), each worth 1/2 -> AP = 1/2 + 1/3.
    assert image_ap([1, 0, 1], [0.9, 0.6, 0.5]) == pytest.approx(5 / 6)


def test_f1_max_by_hand():
    # Thresholds: 0.8 -> P=1, R=1/2, F1=2/3; 0.4 -> P=1/2, R=1/2, F1=1/2;
    # 0.35 -> P=2/3, R=1, F1=0.8; 0.1 -> P=1/2, R=1, F1=2/3.
    result = f1_max([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert isinstance(result, F1Max)
    assert result.f1 == pytest.approx(0.8)
    assert result.threshold == 0.35
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_max_matches_brute_force_over_thresholds(seed):
    labels, scores = random_case(seed)
    best = max(f1_score(labels, scores >= t) for t in np.unique(scores))
    result = f1_max(labels, scores)
    assert result.f1 == pytest.approx(best, abs=1e-12)
    # The reported threshold really achieves the reported numbers.
    predicted = scores >= result.threshold
    assert f1_score(labels, predicted) == pytest.approx(result.f1, abs=1e-12)
    assert predicted[labels == 1].mean() == pytest.approx(result.recall)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_max_matches_anomalib_formula(seed):
    # anomalib: F1 = 2PR / (P + R + 1e-10) over the PR curve, threshold at argmax.
    labels, scores = random_case(seed)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / (precision + recall + 1e-10)
    result = f1_max(labels, scores)
    assert result.f1 == pytest.approx(f1.max(), abs=1e-9)
    assert result.threshold == thresholds[np.argmax(f1)]


def test_f1_floor():
    assert f1_floor([0, 1, 1, 1]) == pytest.approx(2 * 0.75 / 1.75)
    # Equal scores leave "flag everything" as the only prediction.
    assert f1_max([0, 1, 1, 1], [0.3] * 4).f1 == pytest.approx(f1_floor([0, 1, 1, 1]))
    labels, scores = random_case(3, anomalous_share=0.8)
    assert f1_max(labels, scores).f1 >= f1_floor(labels) - 1e-12


def test_accepts_booleans_and_lists():
    assert image_auroc([False, True], [0.0, 1.0]) == 1.0
    assert f1_max(np.array([False, True]), np.array([0, 1])).f1 == 1.0


def test_single_class_is_an_error_naming_both_classes():
    with pytest.raises(ValueError, match="both normal and anomalous"):
        image_auroc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both normal and anomalous"):
        image_auroc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels"):
        f1_max([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels"):
        f1_floor([0, 0])


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="scores contains NaN"):
        image_auroc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="labels has shape .* scores has shape"):
        image_ap([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels must contain only 0"):
        image_auroc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels must be 1-D"):
        image_auroc([[0, 1]], [[0.1, 0.2]])
