"""What every dataset looks like from the outside.

A dataset is a root folder plus a category, scanned once at construction into
lists of ``Sample`` per split. Scanning eagerly means a wrong path or a
half-extracted archive fails at the line that names the dataset, with the
folder that is wrong, rather than minutes into a run.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from ...errors import ConfigError
from ..errors import DatasetLayoutError
from ..io import list_images
from ..sample import Sample

__all__ = ["AnomalyDataset"]


class AnomalyDataset(ABC):
    """Base class: ``root``, ``category``, ``samples(split)`` and friends.

    Subclasses set ``name``, ``splits`` and ``layout`` (a short description of
    the expected folders, quoted in error messages), and implement
    ``categories`` and ``_scan``.
    """

    name: ClassVar[str]
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    layout: ClassVar[str]
    known_categories: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: str | os.PathLike, category: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetLayoutError(
                f"{self.name} root folder not found: {self.root}; expected {self.layout}"
            )
        self.category = self._resolve_category(category)
        self._samples = self._scan()

    @classmethod
    @abstractmethod
    def categories(cls, root: str | os.PathLike | None = None) -> list[str]:
        """Categories present under ``root``; without a root, the dataset's official list."""

    @abstractmethod
    def _scan(self) -> dict[str, list[Sample]]:
        """Read the layout for ``self.category``; return samples for every name in ``splits``."""

    def samples(self, split: str) -> list[Sample]:
        if split not in self.splits:
            raise ConfigError(f"{self.name} has splits {self.splits}, not {split!r}")
        return list(self._samples[split])

    def train_normals(self) -> list[Path]:
        """Sorted paths of the normal training images: the pool few-shot support sets are drawn from."""
        return sorted(s.image_path for s in self._samples["train"] if s.label == 0)

    def test_samples(self) -> list[Sample]:
        return self.samples("test")

    def __len__(self) -> int:
        """Number of test samples, the ones an evaluation iterates over."""
        return len(self._samples["test"])

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.test_samples())

    def __repr__(self) -> str:
        sizes = ", ".join(f"{split}={len(self._samples[split])}" for split in self.splits)
        return f"{type(self).__name__}(root={str(self.root)!r}, category={self.category!r}, {sizes})"

    @classmethod
    def found_categories(cls, root: str | os.PathLike) -> list[str]:
        """``categories(root)``, or an error saying what the layout lacks when there are none."""
        available = cls.categories(root)
        if not available:
            raise DatasetLayoutError(
                f"no {cls.name} categories found in {root}; expected {cls.layout}{cls.incomplete(Path(root))}"
            )
        return available

    @classmethod
    def incomplete(cls, root: Path) -> str:
        """Why folders under ``root`` that look like categories are not, as text to append to an error."""
        return ""

    def _resolve_category(self, category: str | None) -> str:
        available = self.found_categories(self.root)
        if category is None:
            if len(available) == 1:
                return available[0]
            raise ConfigError(
                f"{self.name} at {self.root} has several categories; pass category= one of {', '.join(available)}"
            )
        if category not in available:
            raise DatasetLayoutError(
                f"{self.name} category {category!r} not found in {self.root}; "
                f"available: {', '.join(available)} (expected {self.layout}){self.incomplete(self.root)}"
            )
        return category


SPLIT_FOLDERS = ("train", "test")


def split_categories(root: Path) -> list[str]:
    """Subfolders of ``root`` holding both train/ and test/: the categories of the MVTec layouts."""
    return [p.name for p in subfolders(root) if all((p / split).is_dir() for split in SPLIT_FOLDERS)]


def missing_splits(root: Path) -> str:
    """"; bottle/ has no test/ folder" for every subfolder that holds one split folder but not the other."""
    notes = []
    for folder in subfolders(root):
        present = [split for split in SPLIT_FOLDERS if (folder / split).is_dir()]
        if present and len(present) < len(SPLIT_FOLDERS):
            absent = [split for split in SPLIT_FOLDERS if split not in present]
            notes.append(f"{folder / absent[0]} is missing")
    return "".join(f"; {note}" for note in notes)


def subfolders(folder: Path) -> list[Path]:
    """Sorted, non-hidden subfolders; hidden ones are OS or tool clutter, never data."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def require_folder(folder: Path, what: str) -> Path:
    if not folder.is_dir():
        raise DatasetLayoutError(f"folder not found: {folder}; expected {what}")
    return folder


def good_first(folders: list[Path]) -> list[Path]:
    """Normal images first, then defect types alphabetically: a stable, readable order."""
    return sorted(folders, key=lambda p: (p.name != "good", p.name))


class SplitFolders:
    """Mixin of the MVTec layouts: a category is a folder with train/ and test/ in it."""

    known_categories: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def categories(cls, root: str | os.PathLike | None = None) -> list[str]:
        if root is None:
            return list(cls.known_categories)
        return split_categories(Path(root))

    @classmethod
    def incomplete(cls, root: Path) -> str:
        return missing_splits(root)

    test_layout: ClassVar[str] = "test/<type>/ folders"

    def _test_samples(self, folder: Path) -> list[Sample]:
        """Every image under ``folder``/test/<type>/, the good ones first; defects with their masks."""
        samples = []
        for type_folder in good_first(subfolders(require_folder(folder / "test", self.test_layout))):
            for path in list_images(type_folder):
                if type_folder.name == "good":
                    samples.append(Sample(path, 0, "good", category=self.category))
                else:
                    samples.append(self._defect_sample(folder, type_folder.name, path))
        if not samples:
            raise DatasetLayoutError(f"no test images found in {folder / 'test'}; expected test/<type>/*.png")
        return samples

    def _defect_sample(self, folder: Path, anomaly_type: str, path: Path) -> Sample:
        """A defective test image with its ground truth; the layout's own rule."""
        raise NotImplementedError
