"""Reading anomaly-detection data: images and masks, public datasets, few-shot support sets.

    from defectlab.data import get_dataset, sample_support, load_image, load_gt_mask

    ds = get_dataset("mvtec-ad", "/data/mvtec_ad", category="bottle")
    support = sample_support(ds.train_normals(), k=4, seed=42)
    for sample in ds.test_samples():
        image, truth = load_image(sample.image_path), load_gt_mask(sample)
"""

from .datasets import (
    DATASETS,
    KSDD2,
    AnomalyDataset,
    FolderDataset,
    MagneticTile,
    MVTecAD,
    MVTecLOCO,
    VisA,
    get_dataset,
)
from .errors import DatasetLayoutError, ImageLoadError, ImageNotFoundError
from .io import (
    IMAGE_EXTENSIONS,
    image_size,
    list_images,
    load_image,
    load_images,
    load_mask,
    load_pixels,
    save_image_atomic,
    save_png_atomic,
    threshold_pixels,
    write_bytes_atomic,
    write_text_atomic,
)
from .sample import Sample, load_gt_mask, load_gt_masks_separate
from .sampling import SEEDS, SHOTS, sample_support, support_sets

__all__ = [
    "DATASETS",
    "IMAGE_EXTENSIONS",
    "KSDD2",
    "SEEDS",
    "SHOTS",
    "AnomalyDataset",
    "DatasetLayoutError",
    "FolderDataset",
    "ImageLoadError",
    "ImageNotFoundError",
    "MVTecAD",
    "MVTecLOCO",
    "MagneticTile",
    "Sample",
    "VisA",
    "get_dataset",
    "image_size",
    "list_images",
    "load_gt_mask",
    "load_gt_masks_separate",
    "load_image",
    "load_images",
    "load_mask",
    "load_pixels",
    "sample_support",
    "save_image_atomic",
    "save_png_atomic",
    "write_bytes_atomic",
    "write_text_atomic",
    "support_sets",
    "threshold_pixels",
]
