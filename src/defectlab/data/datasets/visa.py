"""VisA (Zou et al., ECCV 2022) under its official one-class protocol.

    ROOT/split_csv/1cls.csv          object,split,label,image,mask
    ROOT/<object>/Data/Images/{Normal,Anomaly}/0000.JPG
    ROOT/<object>/Data/Masks/Anomaly/000.png
    ROOT/<object>/image_anno.csv     image,label,mask   (optional: defect names)

The split comes from 1cls.csv and nowhere else: VisA ships no train/test
folders, and a home-made split would make results incomparable with every
published number. Paths in the CSV are relative to ROOT, labels are
"normal" / "anomaly".

VisA masks are label maps (defect pixels are 1, 2, ...; not 255), so they
are read with ``mask_threshold=0``. A sample's ``anomaly_type`` is the defect
description from the object's image_anno.csv when that file is present
(e.g. "scratch" or "melt, scratch"), else "anomaly".
"""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path

from ..errors import DatasetLayoutError
from ..sample import Sample
from .base import AnomalyDataset
from .registry import DATASETS

__all__ = ["VisA"]

_COLUMNS = ("object", "split", "label", "image", "mask")
_LABELS = {"normal": 0, "anomaly": 1}


@DATASETS.register("visa")
class VisA(AnomalyDataset):
    name = "VisA"
    layout = "ROOT/split_csv/1cls.csv listing ROOT-relative image and mask paths"
    known_categories = (
        "candle", "capsules", "cashew", "chewinggum", "fryum", "macaroni1",
        "macaroni2", "pcb1", "pcb2", "pcb3", "pcb4", "pipe_fryum",
    )  # fmt: skip

    @classmethod
    def categories(cls, root: str | os.PathLike | None = None) -> list[str]:
        if root is None:
            return list(cls.known_categories)
        return sorted({row["object"] for _, row in _read_split_csv(Path(root))})

    def _scan(self) -> dict[str, list[Sample]]:
        defect_names = _read_image_anno(self.root / self.category / "image_anno.csv")
        samples: dict[str, list[Sample]] = {"train": [], "test": []}
        missing: list[Path] = []
        for line, row in _read_split_csv(self.root):
            if row["object"] != self.category:
                continue
            where = f"{_split_csv(self.root)} line {line}"
            split, label = row["split"], _LABELS.get(row["label"])
            if split not in samples:
                raise DatasetLayoutError(f"{where}: split {split!r} is neither 'train' nor 'test'")
            if label is None:
                raise DatasetLayoutError(f"{where}: label {row['label']!r} is neither 'normal' nor 'anomaly'")
            image = self.root / row["image"]
            masks = (self.root / row["mask"],) if label == 1 and row["mask"] else ()
            missing += [path for path in (image, *masks) if not path.is_file()]
            anomaly_type = "good" if label == 0 else defect_names.get(row["image"], "anomaly")
            samples[split].append(
                Sample(image, label, anomaly_type, masks, split=split, category=self.category, mask_threshold=0)
            )
        if missing:
            raise DatasetLayoutError(
                f"{len(missing)} files listed in {_split_csv(self.root)} for {self.category!r} are missing, "
                f"e.g. {missing[0]}; is the VisA archive fully extracted into {self.root}?"
            )
        for split, listed in samples.items():
            if not listed:
                raise DatasetLayoutError(f"{_split_csv(self.root)} lists no {split} images for {self.category!r}")
            listed.sort(key=lambda s: (s.label, s.image_path))
        return samples


def _split_csv(root: Path) -> Path:
    return root / "split_csv" / "1cls.csv"


def _read_split_csv(root: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of 1cls.csv with their line numbers (for error messages), values stripped."""
    path = _split_csv(root)
    if not path.is_file():
        raise DatasetLayoutError(
            f"VisA split file not found: {path}; defectlab follows the official 1cls protocol, "
            "so ROOT must be the extracted VisA release containing split_csv/1cls.csv"
        )
    with _csv_errors(path), path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [column for column in _COLUMNS if column not in (reader.fieldnames or [])]
        if absent:
            raise DatasetLayoutError(
                f"{path} lacks column(s) {', '.join(absent)}; expected header {','.join(_COLUMNS)}"
            )
        return [
            (reader.line_num, {key: (value or "").strip() for key, value in row.items() if key})
            for row in reader
        ]


@contextlib.contextmanager
def _csv_errors(path: Path):
    """A file that is not UTF-8 CSV text is a layout error that names the file, not a bare codec error."""
    try:
        yield
    except (UnicodeDecodeError, csv.Error) as err:
        raise DatasetLayoutError(f"cannot read {path}: {err}; expected a UTF-8 CSV file") from err


def _read_image_anno(path: Path) -> dict[str, str]:
    """ROOT-relative image path -> defect description, from an object's image_anno.csv if present."""
    if not path.is_file():
        return {}
    with _csv_errors(path), path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"image", "label"} <= set(reader.fieldnames or []):
            return {}  # only an optional nicety; a file we cannot interpret just means generic names
        return {
            row["image"].strip(): row["label"].strip()
            for row in reader
            if row.get("image") and row.get("label") and row["label"].strip() != "normal"
        }
