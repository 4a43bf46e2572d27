"""Datasets by name, for configs and the command line; each layout registers itself where it is defined."""

from __future__ import annotations

import os

from ...registry import Registry
from .base import AnomalyDataset

__all__ = ["DATASETS", "get_dataset"]

DATASETS: Registry[AnomalyDataset] = Registry("dataset")


def get_dataset(name: str, root: str | os.PathLike, category: str | None = None, **kwargs) -> AnomalyDataset:
    """Build a dataset by registry name; extra keyword arguments go to its constructor.

    Names are matched ignoring case, with ``_`` accepted for ``-`` (``"mvtec_ad"``).
    """
    return DATASETS.create(name.strip().lower().replace("_", "-"), root=root, category=category, **kwargs)
