"""COCO instance-segmentation export of the saved masks.

Each connected region of a mask (8-connectivity) becomes one annotation, so a
detector trained on the export sees separate defects as separate instances.
Segmentations are compressed RLE, the form pycocotools writes for masks, with
``iscrowd: 0``. Images marked "no defect" are listed without annotations: they
are the negatives a detector needs. ``file_name`` is relative to the output
folder (the copy or link under ``test/``), so the folder can be moved whole.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from . import rle

__all__ = ["ExportImage", "mask_annotations", "build_coco", "decode_segmentation"]


@dataclass(frozen=True)
class ExportImage:
    file_name: str
    width: int
    height: int
    defect_type: str | None  # None: marked "no defect"
    annotations: tuple[dict, ...] = ()  # from mask_annotations, without ids


def mask_annotations(mask: np.ndarray) -> tuple[dict, ...]:
    """One ``{segmentation, area, bbox}`` per connected region of ``mask``."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    found = []
    for label in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[label])
        counts = rle.encode(labels == label, order="F")
        found.append(
            {
                "segmentation": {"size": [height, width], "counts": rle.to_coco_string(counts)},
                "area": area,
                "bbox": [x, y, w, h],
            }
        )
    # Top-to-bottom, left-to-right: the same mask always exports the same way.
    found.sort(key=lambda a: (a["bbox"][1], a["bbox"][0]))
    return tuple(found)


def decode_segmentation(segmentation: dict) -> np.ndarray:
    """Mask of a COCO RLE segmentation, compressed (string counts) or not (list)."""
    height, width = segmentation["size"]
    counts = segmentation["counts"]
    if isinstance(counts, str):
        counts = rle.from_coco_string(counts)
    return rle.decode(counts, height, width, order="F")


def build_coco(images: Iterable[ExportImage], categories: list[str], description: str) -> dict:
    category_ids = {name: i + 1 for i, name in enumerate(categories)}
    out_images, out_annotations = [], []
    for image_id, image in enumerate(images, start=1):
        out_images.append(
            {"id": image_id, "file_name": image.file_name, "width": image.width, "height": image.height}
        )
        if image.defect_type is None:
            continue
        for ann in image.annotations:
            out_annotations.append(
                {
                    "id": len(out_annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[image.defect_type],
                    "iscrowd": 0,
                    **ann,
                }
            )
    return {
        "info": {
            "description": description,
            "date_created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "images": out_images,
        "annotations": out_annotations,
        "categories": [{"id": i, "name": name, "supercategory": "defect"} for name, i in category_ids.items()],
    }
