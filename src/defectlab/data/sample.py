"""The one record every dataset returns, and reading its ground truth.

Datasets differ wildly on disk; after loading they all become lists of
``Sample``. Detectors, metrics and the labelling tool only ever see this
record, which is why it carries everything the metrics need (label, defect
type, every mask file) and nothing dataset-specific beyond that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .io import image_size, load_pixels, threshold_pixels

__all__ = ["Sample", "load_gt_mask", "load_gt_masks_separate"]

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Sample:
    """One image of a dataset with its ground truth.

    ``anomaly_type`` is ``"good"`` for normal images, otherwise the defect
    name as the dataset spells it (the folder name for MVTec AD, e.g.
    ``"crack"``; for MVTec LOCO the folder name ``"logical_anomalies"`` /
    ``"structural_anomalies"``, with ``anomaly_kind`` giving ``"logical"`` /
    ``"structural"``; ``anomaly_kind`` is ``""`` everywhere else).

    ``mask_paths`` may hold several files (MVTec LOCO stores one per defect);
    a pixel is anomalous if it passes ``mask_threshold`` in any of them.
    ``mask_threshold`` exists because datasets encode masks differently:
    0/255 images (127 is safe, and ignores compression noise such as the
    Magnetic Tile masks'), or label maps whose defect pixels are 1, 2, ...
    (VisA), which need 0.
    """

    image_path: Path
    label: int
    anomaly_type: str
    mask_paths: tuple[Path, ...] = ()
    split: str = "test"
    category: str = ""
    anomaly_kind: str = ""
    mask_threshold: int = 127

    def __post_init__(self) -> None:
        # Accept str paths and lists from callers, but store one canonical form
        # so samples compare, hash and sort predictably.
        object.__setattr__(self, "image_path", Path(self.image_path))
        object.__setattr__(self, "mask_paths", tuple(Path(p) for p in self.mask_paths))
        if self.label not in (0, 1):
            raise ConfigError(f"label must be 0 (normal) or 1 (anomalous), got {self.label!r} for {self.image_path}")
        if self.split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {self.split!r} for {self.image_path}")

    @property
    def is_anomalous(self) -> bool:
        return self.label == 1


def load_gt_mask(sample: Sample, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The pixel ground truth as one bool HxW array: the OR of all the sample's masks.

    A sample without masks (a normal image, or a dataset with image labels
    only) gives an all-False mask of ``shape``, or of the image's size when
    ``shape`` is None (read from the file header, not by decoding the image).
    Masks are never resized: a mask whose size differs from ``shape`` or from
    the other masks raises, since silently resizing ground truth would shift
    every pixel metric.
    """
    masks = [mask for mask, _ in load_gt_masks_separate(sample)]
    if shape is not None:
        expected, source = tuple(shape), "the requested shape"
    elif masks:
        expected, source = masks[0].shape, f"the first mask, {sample.mask_paths[0]}"
    else:
        expected, source = image_size(sample.image_path), "the image"
    combined = np.zeros(expected, dtype=bool)
    for mask, path in zip(masks, sample.mask_paths):
        if mask.shape != expected:
            raise ConfigError(
                f"mask {path} has shape {mask.shape} but {source} is {expected} "
                f"(image {sample.image_path}); masks are not resized, resize them or the request"
            )
        combined |= mask
    return combined


def load_gt_masks_separate(sample: Sample) -> list[tuple[np.ndarray, int]]:
    """Each mask file on its own, as ``(bool HxW mask, pixel_value)`` pairs, in ``mask_paths`` order.

    sPRO (MVTec LOCO) scores every annotated defect separately, and the value
    its pixels carry in the file identifies the defect type (see the
    dataset's ``defects_config``). ``pixel_value`` is the most common stored
    value among the mask's foreground pixels (robust to a few anti-aliased
    edge pixels), or 0 for an empty mask.
    """
    separate = []
    for path in sample.mask_paths:
        pixels = load_pixels(path)
        if pixels.ndim == 3:
            pixels = pixels.max(axis=2)
        mask = threshold_pixels(pixels, sample.mask_threshold)
        pixel_value = 0
        if mask.any():
            values, counts = np.unique(pixels[mask], return_counts=True)
            most_common = values[counts.argmax()]
            if np.issubdtype(pixels.dtype, np.floating):
                most_common = np.rint(most_common * 255)
            pixel_value = int(most_common)
        separate.append((mask, pixel_value))
    return separate
