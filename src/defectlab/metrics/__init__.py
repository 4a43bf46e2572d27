"""The field's evaluation metrics, on plain numpy arrays.

Scores are "higher = more anomalous"; labels and masks use 1/True for
anomalous. Definitions follow the reference code (anomalib, the official
MVTec AD and MVTec LOCO AD evaluations); each module says where it does.

=====================  ==========================================================
Metric                 What it measures
=====================  ==========================================================
image_auroc            P(random anomalous image outscores a random normal one)
image_ap               precision averaged over recall levels, image level
f1_max                 best F1 over all thresholds, with the threshold (anomalib)
f1_floor               F1 of flagging every image; F1-max is never below it
pixel_auroc            AUROC over all pixels pooled; big defects weigh most
pixel_ap               AP over all pixels pooled; sensitive to class imbalance
aupro                  mean per-region overlap vs FPR, area to FPR 0.3 (MVTec AD)
spro                   saturated per-region overlap, area to FPR 0.05 (LOCO)
iou                    intersection over union of two masks
noc / noc_at           clicks to reach an IoU (NoC@85), and failures (NoF@85)
miou_at_clicks         mean IoU after a fixed number of clicks
=====================  ==========================================================
"""

from .image import F1Max, f1_floor, f1_max, image_ap, image_auroc
from .noc import iou, miou_at_clicks, noc, noc_at
from .pixel import pixel_ap, pixel_auroc
from .pro import ProCurve, aupro, pro_curve
from .spro import SproCurve, load_defects_config, saturation_pixels, spro, spro_curve

__all__ = [
    "F1Max",
    "ProCurve",
    "SproCurve",
    "aupro",
    "f1_floor",
    "f1_max",
    "image_ap",
    "image_auroc",
    "iou",
    "load_defects_config",
    "miou_at_clicks",
    "noc",
    "noc_at",
    "pixel_ap",
    "pixel_auroc",
    "pro_curve",
    "saturation_pixels",
    "spro",
    "spro_curve",
]
