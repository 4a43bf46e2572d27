"""Few-shot support sets, drawn exactly as the VAND 2025 challenge draws them.

The protocol: take the sorted list of normal training images, permute it with
``torch.randperm`` under ``torch.Generator().manual_seed(seed)``, and keep the
first k. Reproducing the generator call itself (rather than an equivalent
shuffle from numpy or ``random``) is what makes a k-shot result here use the
very images a published k-shot result used.

Because the first k of one permutation are kept, the 1-shot set of a seed is
contained in its 2-shot set, which is contained in its 4-shot set, and so on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from ..errors import ConfigError
from .checks import int_in_range, positive_int

__all__ = ["SEEDS", "SHOTS", "evenly_spaced", "sample_support", "support_sets"]

SHOTS: tuple[int, ...] = (1, 2, 4, 8)
SEEDS: tuple[int, ...] = (42, 0, 1234)

T = TypeVar("T")

# What torch.Generator.manual_seed accepts.
SEED_RANGE = (0, 2**64 - 1)


def sample_support(train_normals: Sequence[T], k: int, seed: int) -> list[T]:
    """The k support images for ``seed``: ``[train_normals[i] for i in randperm(n)[:k]]``.

    ``train_normals`` must be in the protocol's order, the sorted list of
    train/good paths (what ``AnomalyDataset.train_normals()`` returns); the
    order is not re-sorted here, since any other order gives other images.
    """
    k = positive_int("k", k)
    seed = int_in_range("seed", seed, *SEED_RANGE)
    import torch  # here, not at the top: reading images should not pay torch's import time

    if k > len(train_normals):
        raise ConfigError(
            f"cannot draw a {k}-shot support set from {len(train_normals)} normal training images"
        )
    order = torch.randperm(len(train_normals), generator=torch.Generator().manual_seed(seed))
    return [train_normals[i] for i in order[:k].tolist()]


def support_sets(
    train_normals: Sequence[T],
    shots: Sequence[int] = SHOTS,
    seeds: Sequence[int] = SEEDS,
) -> dict[tuple[int, int], list[T]]:
    """Every support set of the protocol, keyed by ``(k, seed)``."""
    return {(k, seed): sample_support(train_normals, k, seed) for k in shots for seed in seeds}


def evenly_spaced(items: Sequence[T], n: int) -> list[T]:
    """At most ``n`` of ``items``, evenly spaced and in order, first and last included.

    A deterministic subsample that keeps every part of a sorted list
    represented (every anomaly type of a test set, every stretch of a
    production run); all of ``items`` when there are no more than ``n``.
    """
    n = positive_int("n", n)
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]
