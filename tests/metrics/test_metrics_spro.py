"""AUsPRO (MVTec LOCO): saturation by hand, a brute-force reference, config parsing."""

import json

import numpy as np
import pytest

from defectlab.metrics import aupro, load_defects_config, saturation_pixels, spro, spro_curve


def one_region_case(flagged):
    """A good image and a defective one whose 10-pixel region has `flagged`
    pixels scoring 1; everything else scores 0."""
    region = np.zeros((8, 8), bool)
    region[2:4, 1:6] = True  # 2 x 5 = 10 pixels
    defective_map = np.zeros((8, 8))
    defective_map[tuple(np.argwhere(region)[:flagged].T)] = 1.0
    maps = np.stack([np.zeros((8, 8)), defective_map])
    return [[], [region]], maps


def test_overlap_beyond_saturation_counts_as_fully_found():
    # Region of 10 px, saturation 5, 6 px flagged -> min(6 / 5, 1) = 1.
    gt, maps = one_region_case(flagged=6)
    curve = spro_curve(gt, maps, [[], [5]])
    assert curve.thresholds[1] == 1.0
    assert (curve.fpr[1], curve.spro[1]) == (0.0, 1.0)
    assert spro(gt, maps, [[], [5]]) == pytest.approx(1.0)


def test_overlap_below_saturation_is_proportional():
    # 3 of a saturation of 5 -> 0.6 at FPR 0; then everything is flagged at
    # once, so the curve runs straight to (1, 1): at FPR 0.05 it is 0.62.
    gt, maps = one_region_case(flagged=3)
    curve = spro_curve(gt, maps, [None, [5]])
    assert curve.spro[1] == pytest.approx(0.6)
    assert spro(gt, maps, [None, [5]]) == pytest.approx((0.6 + 0.62) / 2)


def test_absolute_saturation_is_capped_at_the_region_area():
    # A threshold of 1000 px on a 10 px region means "all of it".
    gt, maps = one_region_case(flagged=10)
    assert spro(gt, maps, [[], [1000]]) == pytest.approx(1.0)


def test_background_of_defective_images_counts_for_fpr():
    gt, maps = one_region_case(flagged=10)
    maps[1, 7, 7] = 1.0  # one false positive outside the region
    curve = spro_curve(gt, maps, [[], [10]])
    normal_pixels = 64 + (64 - 10)
    assert curve.fpr[1] == pytest.approx(1 / normal_pixels)


def test_overlapping_masks_are_separate_regions():
    a = np.zeros((4, 4), bool)
    a[0, :] = True
    b = np.zeros((4, 4), bool)
    b[0, :2] = True  # inside a
    score_map = np.zeros((4, 4))
    score_map[0, :2] = 1.0
    curve = spro_curve([[a, b]], [score_map], [[4, 2]])
    # a: 2 of 4 -> 0.5; b: 2 of 2 -> 1.
    assert curve.spro[1] == pytest.approx(0.75)
    assert curve.fpr[1] == 0.0


def test_masks_may_be_a_stack_and_maps_a_list():
    gt, maps = one_region_case(flagged=4)
    expected = spro(gt, maps, [[], [5]])
    stacked = [np.zeros((0, 8, 8), bool), np.stack(gt[1])]
    assert spro(stacked, list(maps), [np.array([]), np.array([5])]) == expected


def test_saturation_equal_to_area_reduces_to_aupro():
    # With one connected component per mask and saturation = area, sPRO is
    # PRO, and both count false positives on the same pixels.
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 10, 10), bool)
    masks[0, 1:4, 1:5] = True
    masks[1, 6:9, 2:4] = True
    maps = np.round(rng.normal(masks * 1.0, 0.6), 1)
    gt = [[m] if m.any() else [] for m in masks]
    saturations = [[m.sum()] if m.any() else [] for m in masks]
    for limit in (0.05, 0.3):
        assert spro(gt, maps, saturations, fpr_limit=limit) == pytest.approx(aupro(masks, maps, fpr_limit=limit))


def brute_force(gt, maps, saturations):
    """LOCO's per-threshold definition at every distinct score."""
    thresholds = np.unique(np.concatenate([m.ravel() for m in maps]))[::-1]
    fpr, mean_spro = [0.0], [0.0]
    for t in thresholds:
        fp = normal = 0
        spros = []
        for masks, sats, score_map in zip(gt, saturations, maps):
            flagged = score_map >= t
            union = np.zeros(score_map.shape, bool)
            for mask, sat in zip(masks, sats):
                union |= mask
                spros.append(min(np.sum(flagged & mask) / min(sat, mask.sum()), 1.0))
            fp += np.sum(flagged & ~union)
            normal += np.sum(~union)
        fpr.append(fp / normal)
        mean_spro.append(np.mean(spros))
    return np.array(fpr), np.array(mean_spro)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    gt, saturations, maps = [], [], []
    for i in range(4):
        masks = []
        for _ in range(i % 3):  # 0, 1, 2, 0 defects
            mask = np.zeros((10, 10), bool)
            r, c = rng.integers(0, 7, size=2)
            mask[r : r + rng.integers(1, 4), c : c + rng.integers(1, 4)] = True
            masks.append(mask)
        gt.append(masks)
        saturations.append([rng.choice([2, 3.5, 100]) for _ in masks])
        defect = np.any(masks, axis=0) if masks else np.zeros((10, 10), bool)
        maps.append(np.round(rng.normal(defect * 1.0, 0.7), 1))
    curve = spro_curve(gt, maps, saturations)
    fpr, mean_spro = brute_force(gt, maps, saturations)
    np.testing.assert_allclose(curve.fpr, fpr, atol=1e-12)
    np.testing.assert_allclose(curve.spro, mean_spro, atol=1e-12)


def test_several_limits_give_a_dict():
    gt, maps = one_region_case(flagged=3)
    result, curve = spro(gt, maps, [[], [5]], fpr_limit=[0.05, 1.0], return_curve=True)
    assert set(result) == {0.05, 1.0}
    assert result[0.05] == spro(gt, maps, [[], [5]], fpr_limit=0.05)
    assert curve.fpr[-1] == 1.0


def test_saturation_pixels_follows_the_loco_rules():
    mask = np.zeros((10, 10), bool)
    mask[:3, :5] = True  # 15 px
    assert saturation_pixels(mask, 0.5, relative=True) == 7  # int(7.5)
    assert saturation_pixels(mask, 1.0, relative=True) == 15
    assert saturation_pixels(mask, 100, relative=False) == 15
    assert saturation_pixels(mask, 4, relative=False) == 4
    assert saturation_pixels(mask[:1, :1], 0.5, relative=True) == 1  # not 0


def test_load_defects_config(tmp_path):
    path = tmp_path / "defects_config.json"
    entries = [
        {"defect_name": "missing_banana", "pixel_value": 255, "saturation_threshold": 1.0, "relative_saturation": True},
        {"defect_name": "small_scratch", "pixel_value": 240, "saturation_threshold": 300, "relative_saturation": False},
    ]
    path.write_text(json.dumps(entries))
    assert load_defects_config(path) == {255: (1.0, True), 240: (300, False)}

    path.write_text(json.dumps([{**entries[0], "saturation_threshold": 2.0}]))
    with pytest.raises(ValueError, match="relative saturation_threshold"):
        load_defects_config(path)
    path.write_text(json.dumps([{"defect_name": "x", "pixel_value": 3}]))
    with pytest.raises(ValueError, match="lacks a required key"):
        load_defects_config(path)
    path.write_text(json.dumps([entries[0], entries[0]]))
    with pytest.raises(ValueError, match="pixel_value 255 is used by two"):
        load_defects_config(path)


def test_errors_name_the_argument():
    gt, maps = one_region_case(flagged=3)
    with pytest.raises(ValueError, match="saturation_thresholds has 1 entries but maps has 2"):
        spro(gt, maps, [[5]])
    with pytest.raises(ValueError, match=r"saturation_thresholds\[1\] has 0 values"):
        spro(gt, maps, [[], []])
    with pytest.raises(ValueError, match=r"gt_masks_per_image\[1\]\[0\] is empty"):
        spro([[], [np.zeros((8, 8), bool)]], maps, [[], [5]])
    with pytest.raises(ValueError, match=r"gt_masks_per_image\[1\]\[0\] has shape"):
        spro([[], [np.ones((4, 4), bool)]], maps, [[], [5]])
    with pytest.raises(ValueError, match=r"gt_masks_per_image\[1\] is one \(H, W\) array"):
        spro([[], gt[1][0]], maps, [[], [5]])
    with pytest.raises(ValueError, match="no defect masks"):
        spro([[], []], maps, [[], []])
    with pytest.raises(ValueError, match=r"saturation_thresholds\[1\]\[0\] must be a positive"):
        spro(gt, maps, [[], [0]])
    bad = maps.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"maps\[0\] contains NaN"):
        spro(gt, bad, [[], [5]])
