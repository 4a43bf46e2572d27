"""Magnetic Tile Defect (Huang et al., 2018), as published.

    ROOT/MT_Free/Imgs/exp1_num_10181.jpg          normal
    ROOT/MT_<Type>/Imgs/exp1_num_108719.jpg       Blowhole, Break, Crack, Fray, Uneven
    ROOT/MT_<Type>/Imgs/exp1_num_108719.png       its mask, same name

Images are JPEGs; the PNG of the same name beside each is its mask. The
masks hold faint non-zero noise, so a pixel is a defect only above 127.
Four MT_Uneven masks in the published data are entirely black; those images
stay defective (image label from the folder) with an empty pixel mask.
``anomaly_type`` is the lowercase type ("blowhole", ...), "good" for MT_Free.

The dataset has no train/test split, so this module defines one, and it is
deterministic so that results are comparable across runs and machines:

1. the MT_Free images, sorted by file name,
2. are shuffled with ``torch.randperm`` seeded by ``seed`` (default 0; the
   same generator the few-shot protocol uses),
3. the first ``n_train`` become train/good (default: half, rounded down),
   the rest test/good;
4. every defective image is a test image.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import ConfigError
from ..errors import DatasetLayoutError
from ..io import list_images
from ..sample import Sample
from .base import AnomalyDataset, require_folder, subfolders
from .registry import DATASETS

__all__ = ["MagneticTile"]

_CATEGORY = "magnetic_tile"
_NORMAL_FOLDER = "MT_Free"


@DATASETS.register("magnetic-tile")
class MagneticTile(AnomalyDataset):
    name = "Magnetic Tile Defect"
    layout = "ROOT/MT_<Type>/Imgs/<name>.jpg with a <name>.png mask; MT_Free holds the normal images"
    known_categories = (_CATEGORY,)

    def __init__(
        self,
        root: str | os.PathLike,
        category: str | None = None,
        n_train: int | None = None,
        seed: int = 0,
    ) -> None:
        self.n_train = n_train
        self.seed = seed
        super().__init__(root, category)

    @classmethod
    def categories(cls, root: str | os.PathLike | None = None) -> list[str]:
        return list(cls.known_categories)

    def _scan(self) -> dict[str, list[Sample]]:
        type_folders = [p for p in subfolders(self.root) if p.name.startswith("MT_")]
        if _NORMAL_FOLDER not in {p.name for p in type_folders}:
            raise DatasetLayoutError(f"folder not found: {self.root / _NORMAL_FOLDER}; expected {self.layout}")
        train, test = self._split_normals(self._images(self.root / _NORMAL_FOLDER))
        samples = {
            "train": [Sample(p, 0, "good", split="train", category=_CATEGORY) for p in sorted(train)],
            "test": [Sample(p, 0, "good", category=_CATEGORY) for p in sorted(test)],
        }
        for folder in type_folders:
            if folder.name == _NORMAL_FOLDER:
                continue
            anomaly_type = folder.name.removeprefix("MT_").lower()
            for image in self._images(folder):
                mask = image.with_suffix(".png")
                if not mask.is_file():
                    raise DatasetLayoutError(f"missing mask {mask} for defective image {image}")
                samples["test"].append(Sample(image, 1, anomaly_type, (mask,), category=_CATEGORY))
        return samples

    def _images(self, type_folder: Path) -> list[Path]:
        imgs = require_folder(type_folder / "Imgs", f"the images of {type_folder.name} ({self.layout})")
        # The .png files beside the images are their masks.
        return list_images(imgs, exclude="*.png")

    def _split_normals(self, normals: list[Path]) -> tuple[list[Path], list[Path]]:
        if len(normals) < 2:
            raise DatasetLayoutError(f"{self.root / _NORMAL_FOLDER / 'Imgs'} holds {len(normals)} normal image(s); "
                                     "the train/test split needs at least 2")
        n_train = len(normals) // 2 if self.n_train is None else self.n_train
        if not 0 < n_train < len(normals):
            raise ConfigError(
                f"n_train must leave at least one normal image for each split: "
                f"got {n_train} of the {len(normals)} images in {_NORMAL_FOLDER}"
            )
        import torch  # here, not at the top: listing a dataset should not pay torch's import time

        order = torch.randperm(len(normals), generator=torch.Generator().manual_seed(self.seed)).tolist()
        shuffled = [normals[i] for i in order]
        return shuffled[:n_train], shuffled[n_train:]
