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

import numbers
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["SEEDS", "SHOTS", "sample_support", "support_sets"]

SHOTS: tuple[int, ...] = (1, 2, 4, 8)
SEEDS: tuple[int, ...] = (42, 0, 1234)

T = TypeVar("T")


def sample_support(train_normals: Sequence[T], k: int, seed: int) -> list[T]:
    """The k support images for ``seed``: ``[train_normals[i] for i in randperm(n)[:k]]``.

    ``train_normals`` must be in the protocol's order, the sorted list of
    train/good paths (what ``AnomalyDataset.train_normals()`` returns); the
    order is not re-sorted here, since any other order gives other images.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    import torch  # here, not at the top: reading images should not pay torch's import time

    if k > len(train_normals):
        raise ValueError(
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
