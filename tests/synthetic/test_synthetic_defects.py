"""Synthetic defects: every kind draws a visible change exactly where its mask says, reproducibly."""

import numpy as np
import pytest

from defectlab.synthetic.defects import KINDS, PROMPTS, synthesize


def _surface(seed: int, size: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grain = np.cumsum(rng.normal(0, 1, (size, size)), axis=0)  # vertical streaks, like a ground surface
    grain = 110 + 25 * (grain - grain.mean()) / grain.std()
    return np.repeat(np.clip(grain, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_the_image_inside_its_mask(kind):
    image, donor = _surface(0), _surface(1)
    out, mask, got = synthesize(image, np.random.default_rng([3, KINDS.index(kind)]), kind=kind, donor=donor)
    assert got == kind and out.shape == image.shape and out.dtype == np.uint8
    assert mask.dtype == bool and 0 < mask.mean() < 0.9
    diff = np.abs(out.astype(int) - image.astype(int)).sum(-1)
    assert diff[mask].mean() > 2 * max(diff[~mask].mean(), 0.5)
    assert PROMPTS[kind]


def test_region_defects_are_large():
    areas = [synthesize(_surface(i), np.random.default_rng(i), kind="region", donor=_surface(i + 1))[1].mean() for i in range(8)]
    assert np.median(areas) > 0.08


def test_same_seed_same_defect_and_bad_input_is_refused():
    a = synthesize(_surface(0), np.random.default_rng(7))
    b = synthesize(_surface(0), np.random.default_rng(7))
    assert a[2] == b[2] and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="RGB uint8"):
        synthesize(np.zeros((8, 8), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown synthetic anomaly kind"):
        synthesize(_surface(0), np.random.default_rng(0), kind="nope")
