"""MVTec AD (Bergmann et al., CVPR 2019), as distributed.

    ROOT/<category>/train/good/000.png
    ROOT/<category>/test/good/000.png
    ROOT/<category>/test/<defect>/000.png
    ROOT/<category>/ground_truth/<defect>/000_mask.png

Every defective test image must have its mask: a missing one would make the
pixel metrics quietly count that defect as background, so it is an error.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetLayoutError
from ..io import list_images
from ..sample import Sample
from .base import AnomalyDataset, SplitFolders, require_folder
from .registry import DATASETS

__all__ = ["MVTecAD"]


@DATASETS.register("mvtec-ad")
class MVTecAD(SplitFolders, AnomalyDataset):
    name = "MVTec AD"
    layout = "ROOT/<category>/{train/good, test/<type>, ground_truth/<type>/<name>_mask.png}"
    known_categories = (
        "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut",
        "pill", "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
    )  # fmt: skip

    def _scan(self) -> dict[str, list[Sample]]:
        folder = self.root / self.category
        train = [
            Sample(path, 0, "good", split="train", category=self.category)
            for path in list_images(require_folder(folder / "train" / "good", "the normal training images"))
        ]
        return {"train": train, "test": self._test_samples(folder)}

    def _defect_sample(self, folder: Path, anomaly_type: str, path: Path) -> Sample:
        mask = folder / "ground_truth" / anomaly_type / f"{path.stem}_mask.png"
        if not mask.is_file():
            raise DatasetLayoutError(
                f"missing ground-truth mask {mask} for defective image {path}; "
                "MVTec AD has ground_truth/<type>/<name>_mask.png for every defective test image"
            )
        return Sample(path, 1, anomaly_type, (mask,), category=self.category)
