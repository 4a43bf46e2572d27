"""Descriptors and fusion on hand-made parses: each sees what it is for, and says why."""

import numpy as np
import pytest

from defectlab.detect import fusion
from defectlab.detect.descriptors import PRESETS, Parse, create_descriptors, resolve, top_percent_mean
from defectlab.detect.descriptors.logical import (
    ClassColourDescriptor,
    ClassHistogramDescriptor,
    ClassLocationDescriptor,
)
from defectlab.detect.descriptors.patch import PatchDescriptor
from defectlab.errors import ConfigError, NotFittedError
from defectlab.segment.aligners.base import ClassMap

SIZE = 32


def parse(boxes, colour=(200, 40, 40), noise=0.0, seed=0, patch_bump=None):
    """Two classes as boxes (y0, y1, x0, x1) on background; features one-hot per class plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((SIZE, SIZE), np.int32)
    image = np.full((SIZE, SIZE, 3), 128, np.uint8)
    for cls, box in boxes.items():
        y0, y1, x0, x1 = box
        labels[y0:y1, x0:x1] = cls
        image[y0:y1, x0:x1] = colour if cls == 1 else (40, 40, 200)
    grid = labels[2::4, 2::4]  # 8x8 patches
    feats = np.eye(4, 8)[grid] + noise * rng.normal(size=(8, 8, 8))
    if patch_bump is not None:
        feats[patch_bump] += 3.0 * np.eye(8)[7]
    return Parse(image, feats.astype(np.float32), ClassMap(labels, n_classes=2))


NORMAL = {1: (4, 12, 4, 12), 2: (18, 28, 16, 28)}


def normals(k=3):
    return [parse({c: (b[0] + i % 2, b[1] + i % 2, b[2], b[3]) for c, b in NORMAL.items()}, noise=0.02, seed=i)
            for i in range(k)]


def test_histogram_names_the_missing_class():
    d = ClassHistogramDescriptor().fit(normals())
    missing = d.score(parse({2: NORMAL[2]}))
    normal = d.score(normals(4)[3])
    assert missing.value > 5 * normal.value
    assert missing.cls == 1 and "missing part" in missing.reason and "area 0.0 %" in missing.reason
    assert missing.region[8, 8]  # drawn where the part should have been


def test_location_flags_a_moved_class_and_colour_a_recoloured_one():
    moved = parse({1: (20, 28, 2, 10), 2: NORMAL[2]})
    loc = ClassLocationDescriptor().fit(normals())
    assert loc.score(moved).cls == 1 and loc.score(moved).value > 3 * loc.score(normals(4)[3]).value
    recoloured = parse(NORMAL, colour=(40, 200, 40))
    col = ClassColourDescriptor().fit(normals())
    s = col.score(recoloured)
    assert s.cls == 1 and "wrong colour" in s.reason and s.value > 3
    ratio = ClassColourDescriptor(mode="ratio").fit(normals())
    assert ratio.score(recoloured).value > ratio.score(normals(4)[3]).value


def test_patch_descriptor_scores_the_worst_patches_and_maps_them():
    with pytest.raises(NotFittedError, match="patch: call fit"):
        PatchDescriptor().score(normals(1)[0])
    d = PatchDescriptor().fit(normals())
    bumped = d.score(parse(NORMAL, patch_bump=(5, 1)))
    assert bumped.patch_map.shape == (8, 8) and np.unravel_index(bumped.patch_map.argmax(), (8, 8)) == (5, 1)
    assert bumped.value > d.score(normals(4)[3]).value
    assert top_percent_mean(np.arange(100.0), 2) == 98.5


def test_image_match_sees_combinations_that_class_match_forgives():
    # normal images: both classes left, or both right; test: class 1 left, class 2 right
    left = {1: (2, 8, 2, 8), 2: (20, 26, 2, 8)}
    right = {1: (2, 8, 22, 28), 2: (20, 26, 22, 28)}
    bank = [parse(left), parse(right)]
    mixed = parse({1: left[1], 2: right[2]})
    by_image = ClassLocationDescriptor(match="image").fit(bank).score(mixed).value
    by_class = ClassLocationDescriptor(match="class").fit(bank).score(mixed).value
    assert by_class == pytest.approx(0.0, abs=1e-9) and by_image > 1


def test_presets_and_names():
    assert resolve("full") == PRESETS["full"] and len(PRESETS["full"]) == 7
    assert resolve("default") == tuple(n for n in PRESETS["full"] if n != "class-patch")
    assert [d.name for d in create_descriptors()] == list(PRESETS["default"])
    assert resolve("vand") == ("patch", "foreground-patch", "class-histogram")
    assert resolve("histogram, colour") == ("class-histogram", "class-colour")
    with pytest.raises(ConfigError, match="unknown descriptor 'area'"):
        resolve(["area"])
    assert [d.name for d in create_descriptors("vand")] == list(PRESETS["vand"])


def test_leave_one_out_weights_self_normalise():
    shots = normals(4)
    make = lambda: create_descriptors("full")  # noqa: E731
    weights, loo = fusion.leave_one_out_weights(make, shots)
    assert set(weights) == set(PRESETS["full"]) and all(len(v) == 4 for v in loo.values())
    for name, w in weights.items():
        assert w >= max(loo[name]) and w > 0
    fitted = [d.fit(shots) for d in make()]
    raw = {d.name: d.score(shots[0]).value for d in fitted}
    norm = fusion.normalise(raw, weights)
    assert fusion.fuse(norm) == pytest.approx(sum(norm.values()))
    assert fusion.fuse(norm, ["patch"]) == pytest.approx(norm["patch"])
    with pytest.raises(ValueError, match="at least 2"):
        fusion.leave_one_out_scores(make, shots[:1])
    assert fusion.fixed_weights(make())["class-histogram"] == 1.0  # logical scores come in class units
