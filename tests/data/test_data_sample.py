"""Sample records and reading their ground truth: OR of masks, separate masks with their defect values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defectlab.data import Sample, load_gt_mask, load_gt_masks_separate


def write(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def test_sample_normalises_paths_and_validates():
    sample = Sample("img.png", 1, "crack", ["m.png"], split="train")
    assert sample.image_path == Path("img.png") and sample.mask_paths == (Path("m.png"),)
    assert sample.is_anomalous and sample.anomaly_kind == "" and sample.category == ""
    assert sample == Sample(Path("img.png"), 1, "crack", (Path("m.png"),), split="train")
    with pytest.raises(ValueError, match="label"):
        Sample("img.png", 2, "crack")
    with pytest.raises(ValueError, match="split"):
        Sample("img.png", 0, "good", split="val")


def test_normal_sample_gets_an_empty_mask_of_the_image_shape(tmp_path):
    image = write(tmp_path / "a.png", np.zeros((3, 5, 3), dtype=np.uint8))
    sample = Sample(image, 0, "good")
    mask = load_gt_mask(sample)
    assert mask.dtype == bool and mask.shape == (3, 5) and not mask.any()
    assert load_gt_mask(sample, shape=(2, 2)).shape == (2, 2)


def test_several_masks_are_ored_and_kept_apart_with_their_values(tmp_path):
    first = np.zeros((2, 3), dtype=np.uint8)
    first[0, 0] = 255
    second = np.zeros((2, 3), dtype=np.uint8)
    second[1, 2] = 254
    second[1, 1] = 254
    second[0, 2] = 3  # stray low value: below the threshold, not a defect pixel
    paths = (write(tmp_path / "000.png", first), write(tmp_path / "001.png", second))
    sample = Sample(tmp_path / "img.png", 1, "logical_anomalies", paths, anomaly_kind="logical")

    combined = load_gt_mask(sample)
    np.testing.assert_array_equal(combined, [[True, False, False], [False, True, True]])

    separate = load_gt_masks_separate(sample)
    assert [value for _, value in separate] == [255, 254]
    np.testing.assert_array_equal(separate[1][0], [[False, False, False], [False, True, True]])

    # With mask_threshold=0 (label-map masks) the stray value counts, and the common value still wins.
    label_map = Sample(tmp_path / "img.png", 1, "x", paths, mask_threshold=0)
    assert load_gt_masks_separate(label_map)[1][1] == 254
    assert load_gt_mask(label_map)[0, 2]


def test_mask_shape_mismatch_is_an_error_not_a_resize(tmp_path):
    a = write(tmp_path / "a.png", np.zeros((2, 3), dtype=np.uint8))
    b = write(tmp_path / "b.png", np.zeros((3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="b.png"):
        load_gt_mask(Sample(tmp_path / "i.png", 1, "x", (a, b)))
    with pytest.raises(ValueError, match="requested shape"):
        load_gt_mask(Sample(tmp_path / "i.png", 1, "x", (a,)), shape=(4, 4))
