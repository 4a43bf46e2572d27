"""Kolektor Surface-Defect Dataset 2 (Božič et al., 2021), as published.

    ROOT/train/10000.png, ROOT/train/10000_GT.png, ...
    ROOT/test/20000.png,  ROOT/test/20000_GT.png,  ...

Every image has a ``_GT`` mask, and KSDD2 has no label file: an image is
anomalous exactly when its mask has a positive pixel. So the masks are read
once while scanning (a second or two for the full dataset) and any non-zero
pixel counts, both for the label and for pixel metrics, so the two can never
disagree. The training folder also holds defective images; they stay in
``samples("train")`` with label 1, and ``train_normals()`` leaves them out.
KSDD2 has no defect types, so defective samples are typed "defect".
"""

from __future__ import annotations

import os

from ..errors import DatasetLayoutError
from ..io import list_images, load_mask
from ..sample import Sample
from .base import AnomalyDataset, require_folder
from .registry import DATASETS

__all__ = ["KSDD2"]

_MASK_SUFFIX = "_GT"


@DATASETS.register("ksdd2")
class KSDD2(AnomalyDataset):
    name = "KSDD2"
    layout = "ROOT/{train,test}/<name>.png with <name>_GT.png masks"
    known_categories = ("ksdd2",)

    @classmethod
    def categories(cls, root: str | os.PathLike | None = None) -> list[str]:
        return list(cls.known_categories)

    def _scan(self) -> dict[str, list[Sample]]:
        return {split: self._split_samples(split) for split in self.splits}

    def _split_samples(self, split: str) -> list[Sample]:
        folder = require_folder(self.root / split, f"the KSDD2 {split} images ({self.layout})")
        samples = []
        for image in list_images(folder, exclude=f"*{_MASK_SUFFIX}.*"):
            mask = folder / f"{image.stem}{_MASK_SUFFIX}.png"
            if not mask.is_file():
                raise DatasetLayoutError(
                    f"missing mask {mask} for {image}; KSDD2 has a <name>_GT.png next to every image"
                )
            if load_mask(mask, threshold=0).any():
                samples.append(
                    Sample(image, 1, "defect", (mask,), split=split, category="ksdd2", mask_threshold=0)
                )
            else:
                samples.append(Sample(image, 0, "good", split=split, category="ksdd2"))
        return sorted(samples, key=lambda s: (s.label, s.image_path))

