"""One class per public dataset, each reading the dataset's own on-disk layout into ``Sample`` lists."""

from .base import AnomalyDataset
from .folder import FolderDataset
from .ksdd2 import KSDD2
from .magnetic_tile import MagneticTile
from .mvtec_ad import MVTecAD
from .mvtec_loco import MVTecLOCO
from .registry import DATASETS, get_dataset
from .visa import VisA

__all__ = [
    "DATASETS",
    "KSDD2",
    "AnomalyDataset",
    "FolderDataset",
    "MVTecAD",
    "MVTecLOCO",
    "MagneticTile",
    "VisA",
    "get_dataset",
]
