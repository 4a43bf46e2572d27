"""MVTec LOCO AD (Bergmann et al., IJCV 2022), as distributed.

    ROOT/<category>/train/good/000.png
    ROOT/<category>/validation/good/000.png
    ROOT/<category>/test/{good, logical_anomalies, structural_anomalies}/000.png
    ROOT/<category>/ground_truth/<type>/000/000.png, 001.png, ...
    ROOT/<category>/defects_config.json            (optional)

Unlike MVTec AD, a defective image has a *folder* of masks, one file per
annotated defect, whose pixel value says which defect it is (listed in
defects_config.json). Samples keep every file: pixel metrics OR them
(``load_gt_mask``), sPRO scores them one by one (``load_gt_masks_separate``).
Any non-zero mask pixel is foreground; the files are lossless and the pixel
values are identifiers, not intensities.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DatasetLayoutError
from ..io import list_images
from ..sample import Sample
from .base import AnomalyDataset, SplitFolders, require_folder
from .registry import DATASETS

__all__ = ["MVTecLOCO"]

_KINDS = {"logical_anomalies": "logical", "structural_anomalies": "structural"}


@DATASETS.register("mvtec-loco")
class MVTecLOCO(SplitFolders, AnomalyDataset):
    name = "MVTec LOCO AD"
    splits = ("train", "validation", "test")
    layout = (
        "ROOT/<category>/{train/good, validation/good, test/<type>, "
        "ground_truth/<type>/<name>/000.png}"
    )
    test_layout = "test/{good, logical_anomalies, structural_anomalies}"
    known_categories = ("breakfast_box", "juice_bottle", "pushpins", "screw_bag", "splicing_connectors")

    def __init__(self, root: str | os.PathLike, category: str | None = None) -> None:
        super().__init__(root, category)
        self.defects_config: list[dict] = self._read_defects_config()

    @property
    def defects_by_pixel_value(self) -> dict[int, dict]:
        """defects_config entries keyed by the pixel value their masks carry."""
        return {int(entry["pixel_value"]): entry for entry in self.defects_config if "pixel_value" in entry}

    def _scan(self) -> dict[str, list[Sample]]:
        folder = self.root / self.category
        samples = {
            split: [
                Sample(path, 0, "good", split=split, category=self.category)
                for path in list_images(require_folder(folder / split / "good", f"the normal {split} images"))
            ]
            for split in ("train", "validation")
        }
        samples["test"] = self._test_samples(folder)
        return samples

    def _defect_sample(self, folder: Path, anomaly_type: str, path: Path) -> Sample:
        mask_folder = folder / "ground_truth" / anomaly_type / path.stem
        if not mask_folder.is_dir():
            raise DatasetLayoutError(
                f"missing ground-truth folder {mask_folder} for defective image {path}; "
                "MVTec LOCO has ground_truth/<type>/<name>/000.png (one file per defect)"
            )
        return Sample(
            path,
            1,
            anomaly_type,
            tuple(list_images(mask_folder)),
            category=self.category,
            anomaly_kind=_KINDS.get(anomaly_type, ""),
            mask_threshold=0,
        )

    def _read_defects_config(self) -> list[dict]:
        path = self.root / self.category / "defects_config.json"
        if not path.is_file():
            return []
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DatasetLayoutError(f"cannot read {path}: {err}; expected a JSON list of defect entries") from err
        if not isinstance(config, list) or not all(isinstance(entry, dict) for entry in config):
            raise DatasetLayoutError(f"{path} should be a JSON list of objects, one per defect type")
        return config
