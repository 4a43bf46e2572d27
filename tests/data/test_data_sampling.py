"""The VAND 2025 few-shot draw: deterministic, torch.randperm semantics, nested across k."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from defectlab.data import SEEDS, SHOTS, sample_support, support_sets

POOL = [Path(f"train/good/{i:03d}.png") for i in range(20)]


def test_protocol_constants():
    assert SHOTS == (1, 2, 4, 8)
    assert SEEDS == (42, 0, 1234)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", SHOTS)
def test_matches_torch_randperm_exactly(k, seed):
    order = torch.randperm(len(POOL), generator=torch.Generator().manual_seed(seed))
    assert sample_support(POOL, k, seed) == [POOL[i] for i in order[:k]]


def test_deterministic_and_seed_dependent():
    assert sample_support(POOL, 4, 42) == sample_support(POOL, 4, 42)
    assert sample_support(POOL, 4, 42) != sample_support(POOL, 4, 0)
    # Global torch RNG state must not leak in.
    torch.manual_seed(123)
    first = sample_support(POOL, 4, 42)
    torch.rand(10)
    assert sample_support(POOL, 4, 42) == first


def test_smaller_shots_are_prefixes_of_larger_ones():
    for seed in SEEDS:
        assert sample_support(POOL, 8, seed)[:2] == sample_support(POOL, 2, seed)


def test_support_sets_cover_the_protocol_grid():
    sets = support_sets(POOL)
    assert set(sets) == {(k, s) for k in SHOTS for s in SEEDS}
    assert all(len(v) == k for (k, _), v in sets.items())


def test_bad_k_is_explained():
    with pytest.raises(ValueError, match="8-shot .* 3 normal"):
        sample_support(POOL[:3], 8, 0)
    with pytest.raises(ValueError, match="positive"):
        sample_support(POOL, 0, 0)
    assert sample_support(POOL, np.int64(2), 0) == sample_support(POOL, 2, 0)
