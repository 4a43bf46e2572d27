"""A user's own images, in the simplest layout that can describe them.

Two layouts are accepted; the second is chosen when ROOT has both ``train/``
and ``test/`` folders.

Flat, for a first look at a handful of images::

    ROOT/good/*            normal images
    ROOT/<type>/*          one folder per defect type (the folder name is the type)

    Every normal image is in both splits: ``train_normals()`` is the pool a
    support set is drawn from, and the test set contains the same images.
    ``disjoint_splits`` is False to flag this; an evaluation must leave the
    support images it drew out of the test set, or its scores are inflated.

Split, as in MVTec AD::

    ROOT/train/good/*      normal images for the support pool
    ROOT/test/good/*       normal test images
    ROOT/test/<type>/*     defective test images

Masks are optional, per image, and looked up in ``ROOT/ground_truth/<type>/``
then ``ROOT/masks/<type>/``; in each folder the first of these that exists is
used: ``<stem>_mask.png``, ``<stem>.png``, or a folder ``<stem>/`` whose PNGs
each mark one defect. Masks are binarised at ``mask_threshold`` (default 127).
Masks kept beside the images can be kept out of the image lists with
``exclude`` (e.g. ``exclude="*_mask.png"``), which is passed to ``list_images``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..io import Exclude, list_images
from ..sample import Sample
from .base import AnomalyDataset, good_first, require_folder, subfolders
from .registry import DATASETS

__all__ = ["FolderDataset"]

_MASK_ROOTS = ("ground_truth", "masks")
_NOT_DEFECT_TYPES = {*_MASK_ROOTS, "train", "test"}


@DATASETS.register("folder")
class FolderDataset(AnomalyDataset):
    name = "folder dataset"
    layout = "ROOT/good/ plus one folder per defect type, or ROOT/train/good/ with ROOT/test/{good,<type>}/"
    disjoint_splits: bool  # False in the flat layout: the normal images are in both splits

    def __init__(
        self,
        root: str | os.PathLike,
        category: str | None = None,
        exclude: Exclude = None,
        mask_threshold: int = 127,
    ) -> None:
        self.exclude = exclude
        self.mask_threshold = mask_threshold
        super().__init__(root, category)

    @classmethod
    def categories(cls, root: str | os.PathLike | None = None) -> list[str]:
        """The folder's own name: a folder dataset is one category."""
        return [Path(root).resolve().name] if root is not None else []

    def _resolve_category(self, category: str | None) -> str:
        # Any name is fine: it only labels the samples of a user's own data.
        return category if category is not None else self.categories(self.root)[0]

    def _scan(self) -> dict[str, list[Sample]]:
        self.disjoint_splits = (self.root / "train").is_dir() and (self.root / "test").is_dir()
        if self.disjoint_splits:
            train_good = self._images(self.root / "train" / "good")
            type_folders = subfolders(require_folder(self.root / "test", self.layout))
        else:
            train_good = self._images(self.root / "good")
            type_folders = [p for p in subfolders(self.root) if p.name not in _NOT_DEFECT_TYPES]
        test = []
        for folder in good_first(type_folders):
            for image in self._images(folder):
                if folder.name == "good":
                    test.append(Sample(image, 0, "good", category=self.category))
                else:
                    masks = self._masks(folder.name, image.stem)
                    test.append(
                        Sample(image, 1, folder.name, masks, category=self.category, mask_threshold=self.mask_threshold)
                    )
        train = [Sample(path, 0, "good", split="train", category=self.category) for path in train_good]
        return {"train": train, "test": test}

    def _images(self, folder: Path) -> list[Path]:
        require_folder(folder, f"a folder of images ({self.layout})")
        return list_images(folder, exclude=self.exclude)

    def _masks(self, anomaly_type: str, stem: str) -> tuple[Path, ...]:
        for mask_root in _MASK_ROOTS:
            folder = self.root / mask_root / anomaly_type
            for single in (folder / f"{stem}_mask.png", folder / f"{stem}.png"):
                if single.is_file():
                    return (single,)
            if (folder / stem).is_dir():
                return tuple(list_images(folder / stem))
        return ()
