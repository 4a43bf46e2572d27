"""Pixel-level metrics: pooled over all pixels, checked against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from defectlab.metrics import pixel_ap, pixel_auroc


def random_stack(seed, shape=(4, 16, 16)):
    rng = np.random.default_rng(seed)
    masks = rng.random(shape) < 0.1
    maps = (rng.normal(masks * 1.5, 1.0)).astype(np.float32)
    return masks, maps


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_sklearn_on_flattened_pixels(seed):
    masks, maps = random_stack(seed)
    assert pixel_auroc(masks, maps) == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)
    assert pixel_ap(masks, maps) == pytest.approx(average_precision_score(masks.ravel(), maps.ravel()), abs=1e-12)


def test_perfect_map_scores_one():
    masks, _ = random_stack(0)
    maps = masks.astype(np.float64)
    assert pixel_auroc(masks, maps) == 1.0
    assert pixel_ap(masks, maps) == 1.0


def test_png_style_masks_and_uint8_maps():
    masks, maps = random_stack(1)
    png_masks = masks.astype(np.uint8) * 255
    uint8_maps = np.clip(maps * 40 + 100, 0, 255).astype(np.uint8)
    expected = roc_auc_score(masks.ravel(), uint8_maps.ravel())
    assert pixel_auroc(png_masks, uint8_maps) == pytest.approx(expected, abs=1e-12)


def test_errors_name_the_argument():
    masks, maps = random_stack(0)
    with pytest.raises(ValueError, match="masks has shape .* maps has shape"):
        pixel_auroc(masks, maps[:, :8])
    bad = maps.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="maps contains NaN"):
        pixel_ap(masks, bad)
    with pytest.raises(ValueError, match="both normal and anomalous pixels"):
        pixel_auroc(np.zeros_like(masks), maps)
    with pytest.raises(ValueError, match="masks holds values other than 0 and 1"):
        pixel_auroc(masks * 0.5, maps)
