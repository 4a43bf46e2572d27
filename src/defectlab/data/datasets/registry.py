"""Datasets by name, for configs and the command line."""

from __future__ import annotations

import os

from .base import AnomalyDataset
from .folder import FolderDataset
from .ksdd2 import KSDD2
from .magnetic_tile import MagneticTile
from .mvtec_ad import MVTecAD
from .mvtec_loco import MVTecLOCO
from .visa import VisA

__all__ = ["DATASETS", "get_dataset"]

DATASETS: dict[str, type[AnomalyDataset]] = {
    "mvtec-ad": MVTecAD,
    "mvtec-loco": MVTecLOCO,
    "visa": VisA,
    "ksdd2": KSDD2,
    "magnetic-tile": MagneticTile,
    "folder": FolderDataset,
}


def get_dataset(name: str, root: str | os.PathLike, category: str | None = None, **kwargs) -> AnomalyDataset:
    """Build a dataset by registry name; extra keyword arguments go to its constructor.

    Names are matched ignoring case, with ``_`` accepted for ``-`` (``"mvtec_ad"``).
    """
    key = name.strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[key](root, category, **kwargs)
