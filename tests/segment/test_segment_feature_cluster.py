"""The offline segmenter must find the parts of a composed scene, not only foreground vs background."""

import numpy as np
import pytest

from defectlab.errors import ConfigError
from defectlab.segment import create_segmenter
from defectlab.synthetic.scenes import make_scenes


@pytest.fixture(scope="module")
def segmenter():
    return create_segmenter("feature-cluster")


@pytest.mark.parametrize("layout", ["breakfast", "bottle"])
def test_parts_are_recovered_one_segment_each(segmenter, layout):
    scene = make_scenes(layout, 1, seed=3, size=192)[0]
    seg = segmenter.segment(scene.image)
    assert seg.labels.shape == scene.image.shape[:2] and seg.source == "feature-cluster"
    ious = []
    for mask in scene.part_masks.values():
        if mask.sum() == 0:
            continue
        ids, counts = np.unique(seg.labels[mask], return_counts=True)
        best = ids[np.argmax(counts)]
        ious.append(0.0 if best == 0 else (mask & (seg.labels == best)).sum() / (mask | (seg.labels == best)).sum())
    assert np.mean(ious) > 0.8, ious
    # parts, not a foreground blob: about one segment per part
    assert len(scene.part_masks) - 1 <= seg.n_segments <= 2 * len(scene.part_masks)
    assert seg.labels[0, 0] == 0 and seg.labels[-1, -1] == 0  # the tray is background


def test_background_cut_by_walls_is_still_background(segmenter):
    scene = make_scenes("pushpins", 1, seed=0, size=192)[0]
    seg = segmenter.segment(scene.image)
    parts = np.zeros(seg.shape, bool)
    for m in scene.part_masks.values():
        parts |= m
    # compartments in the middle touch no edge, yet look like the corner ones
    assert ((seg.labels > 0) == parts).mean() > 0.95


def test_blank_image_has_no_parts(segmenter):
    seg = segmenter.segment(np.full((64, 80, 3), 128, np.uint8))
    assert seg.n_segments == 0 and seg.labels.shape == (64, 80)


def test_bad_arguments_name_the_value():
    with pytest.raises(ConfigError, match="colour_weight"):
        create_segmenter("feature-cluster", colour_weight=2)
    lazy = create_segmenter("feature-cluster", backbone="no-such-backbone")  # the backbone loads on first use
    with pytest.raises(ValueError, match="unknown backbone 'no-such-backbone'"):
        lazy.segment(np.zeros((32, 32, 3), np.uint8))
