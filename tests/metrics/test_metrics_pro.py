"""AUPRO: hand-computed curves and a brute-force per-threshold reference."""

import numpy as np
import pytest
from scipy import ndimage

from defectlab.metrics import aupro, pro_curve


def tiny_case():
    # One row of six pixels. Region A = pixels 0-1, region B = pixel 5,
    # normal pixels 2-4. Scores: A 0.9 and 0.5, B 0.6, normal 0.5, 0.3, 0.1.
    masks = np.array([[[1, 1, 0, 0, 0, 1]]], dtype=bool)
    maps = np.array([[[0.9, 0.5, 0.5, 0.3, 0.1, 0.6]]])
    return masks, maps


def test_tiny_curve_by_hand():
    # t=0.9: A half found -> PRO (1/2 + 0)/2 = 0.25, FPR 0
    # t=0.6: B found -> PRO 0.75, FPR 0
    # t=0.5: A complete and one normal pixel -> PRO 1, FPR 1/3
    curve = pro_curve(*tiny_case())
    np.testing.assert_allclose(curve.fpr, [0, 0, 0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(curve.pro, [0, 0.25, 0.75, 1, 1, 1])
    np.testing.assert_array_equal(curve.thresholds, [np.inf, 0.9, 0.6, 0.5, 0.3, 0.1])


def test_tiny_aupro_by_hand():
    masks, maps = tiny_case()
    # Up to FPR 1: trapezoid (0, 0.75)-(1/3, 1) = 1/3 * 0.875, then 2/3 at PRO 1.
    assert aupro(masks, maps, fpr_limit=1.0) == pytest.approx(1 / 3 * 0.875 + 2 / 3)
    # Up to FPR 0.3: PRO at 0.3 interpolates to 0.75 + 0.25 * 0.9 = 0.975,
    # area 0.3 * (0.75 + 0.975) / 2, normalised by 0.3.
    assert aupro(masks, maps) == pytest.approx((0.75 + 0.975) / 2)


def test_perfect_map_scores_one_and_flat_map_scores_chance():
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 16, 16), bool)
    masks[0, 2:6, 3:9] = True
    masks[1, 10:12, 10:15] = True
    perfect = masks + rng.random(masks.shape) * 0.5
    assert aupro(masks, perfect) == pytest.approx(1.0)
    # A flat map flags everything at once: the curve is the diagonal from
    # (0, 0) to (1, 1), i.e. chance level, limit / 2 after normalising.
    assert aupro(masks, np.zeros(masks.shape)) == pytest.approx(0.15)
    assert aupro(masks, np.zeros(masks.shape), fpr_limit=0.05) == pytest.approx(0.025)


def test_regions_are_8_connected():
    # (0,0)-(0,1) touch (1,2) only at a corner: one region of 3 pixels under
    # 8-connectivity (the MVTec convention), two regions under 4-connectivity.
    masks = np.zeros((1, 4, 4), bool)
    masks[0, 0, 0:2] = True
    masks[0, 1, 2] = True
    maps = np.zeros((1, 4, 4))
    maps[0, 1, 2] = 1.0
    curve = pro_curve(masks, maps)
    assert curve.pro[1] == pytest.approx(1 / 3)  # 4-connectivity would give 1/2


def test_regions_never_join_across_images():
    masks = np.ones((2, 2, 2), bool)
    masks[:, 1, 1] = False  # leave normal pixels
    maps = np.zeros((2, 2, 2))
    maps[0][masks[0]] = 1.0  # find image 0's region only
    assert pro_curve(masks, maps).pro[1] == pytest.approx(0.5)


def brute_force_curve(masks, maps):
    """PRO and FPR recomputed from the definition at every distinct score."""
    regions = []
    for mask, score_map in zip(masks, maps):
        labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
        regions += [score_map[labels == k] for k in range(1, n + 1)]
    normal_scores = maps[~masks]
    thresholds = np.unique(maps)[::-1]
    fpr = [np.mean(normal_scores >= t) for t in thresholds]
    pro = [np.mean([np.mean(r >= t) for r in regions]) for t in thresholds]
    return np.array([0.0, *fpr]), np.array([0.0, *pro])


def reference_area(x, y, x_max):
    """Official-style partial trapezoid, written independently."""
    keep = x <= x_max
    area = np.trapezoid(y[keep], x[keep])
    i = keep.sum()
    if x[i - 1] < x_max:
        y_max = np.interp(x_max, x[i - 1 : i + 1], y[i - 1 : i + 1])
        area += (x_max - x[i - 1]) * (y[i - 1] + y_max) / 2
    return area / x_max


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    masks = ndimage.binary_dilation(rng.random((3, 12, 12)) < 0.04, structure=np.ones((1, 2, 2)))
    masks[2] = False  # a good image
    maps = np.round(rng.normal(masks * 1.0, 0.7), 1)  # rounding makes ties
    curve = pro_curve(masks, maps)
    fpr, pro = brute_force_curve(masks, maps)
    np.testing.assert_allclose(curve.fpr, fpr, atol=1e-12)
    np.testing.assert_allclose(curve.pro, pro, atol=1e-12)
    for limit in (0.05, 0.3, 1.0):
        assert aupro(masks, maps, fpr_limit=limit) == pytest.approx(reference_area(fpr, pro, limit), abs=1e-12)


def test_return_curve_and_single_image_input():
    masks, maps = tiny_case()
    value, curve = aupro(masks[0], maps[0], return_curve=True)
    assert value == pytest.approx(aupro(masks, maps))
    assert curve.fpr[0] == 0.0 and curve.fpr[-1] == 1.0


def test_errors_name_the_argument():
    masks, maps = tiny_case()
    with pytest.raises(ValueError, match="masks has shape .* maps has shape"):
        aupro(masks, maps[..., :4])
    with pytest.raises(ValueError, match="masks contain no defect pixels"):
        aupro(np.zeros_like(masks), maps)
    with pytest.raises(ValueError, match="no defect-free pixels"):
        aupro(np.ones_like(masks), maps)
    with pytest.raises(ValueError, match="maps contains NaN"):
        aupro(masks, np.where(masks, np.nan, 0.0))
    with pytest.raises(ValueError, match="fpr_limit"):
        aupro(masks, maps, fpr_limit=0.0)


def test_aupro_and_pixel_metrics_accept_images_of_different_sizes():
    """Lists of per-image arrays give the same numbers as the stacked array,
    and work when sizes differ (Magnetic Tile, KSDD2 crops)."""
    from defectlab.metrics import pixel_ap, pixel_auroc

    rng = np.random.default_rng(3)
    masks = rng.random((3, 20, 30)) > 0.9
    maps = rng.random((3, 20, 30)) + 0.5 * masks
    assert aupro(list(masks), list(maps)) == pytest.approx(aupro(masks, maps))
    assert pixel_auroc(list(masks), list(maps)) == pytest.approx(pixel_auroc(masks, maps))
    # Different sizes: equal to evaluating the images side by side with a
    # gutter that cannot join regions.
    small_m, small_s = masks[1][:10], maps[1][:10]
    gutter_m = np.zeros((20, 1), bool)
    gutter_s = np.full((20, 1), -1.0)
    padded_m = np.concatenate([masks[0], gutter_m, np.pad(small_m, ((0, 10), (0, 0)))], axis=1)
    padded_s = np.concatenate([maps[0], gutter_s, np.pad(small_s, ((0, 10), (0, 0)), constant_values=-1.0)], axis=1)
    # Padding adds normal pixels scored below every real pixel: they come
    # after every positive in the sweep, so AP cannot change.
    assert pixel_ap([masks[0], small_m], [maps[0], small_s]) == pytest.approx(pixel_ap(padded_m, padded_s))
    assert 0 < aupro([masks[0], small_m], [maps[0], small_s]) <= 1
