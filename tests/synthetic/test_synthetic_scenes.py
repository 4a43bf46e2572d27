"""The composed-scene generator: reproducible, every anomaly with a mask and a kind."""

import numpy as np
import pytest

from defectlab.synthetic.scenes import ANOMALIES, LAYOUTS, LOGICAL, STRUCTURAL, admits, make_scenes


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_admitted_anomaly_has_a_mask_and_a_kind(layout):
    scenes = make_scenes(layout, 2, 1, size=96, seed=0)
    normal, anomalous = scenes[:2], scenes[2:]
    assert [s.anomaly for s in anomalous] == [a for a in ANOMALIES if admits(layout, a)]
    for s in normal:
        assert s.label == 0 and s.kind == "normal" and not s.mask.any() and s.image.shape == (96, 96, 3)
        assert s.image.dtype == np.uint8 and len(s.part_masks) >= 4
    for s in anomalous:
        assert s.label == 1 and s.mask.any(), s.anomaly
        assert s.kind == ("logical" if s.anomaly in LOGICAL else "structural")
        assert s.parts


def test_a_seed_fixes_the_scenes_and_normals_vary():
    a = make_scenes("breakfast", 3, {"missing": 1}, size=64, seed=5)
    b = make_scenes("breakfast", 3, {"missing": 1}, size=64, seed=5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
    assert np.abs(a[0].image.astype(int) - a[1].image.astype(int)).mean() > 5  # arrangement changes


def test_missing_part_is_gone_and_its_mask_is_where_it_was():
    scene = make_scenes("pushpins", 0, {"missing": 1}, size=96, seed=2)[0]
    assert len(scene.part_masks) == 11
    assert scene.mask.sum() > 20 and not any((m & scene.mask).any() for m in scene.part_masks.values())


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="admits no 'swapped'"):
        make_scenes("pushpins", 1, {"swapped": 1})
    with pytest.raises(ValueError, match="unknown anomalies"):
        make_scenes("bottle", 1, {"dent": 1})
    with pytest.raises(ValueError, match="unknown layout"):
        make_scenes("screws", 1)
    assert set(STRUCTURAL) == {"scratch", "stain"}
