"""ADClick: anomaly masks from a few clicks.

A click segmenter for defects: the network sees how each patch differs from
the product's normal images (residual features), the clicks, the previous
mask and, optionally, a defect-type prompt. See ``docs/click.md``.

    from defectlab.click import ClickSession, NormalReference
"""

from .checkpoint import DEFAULT_CHECKPOINT, ClickConfig, load_checkpoint, save_checkpoint
from .clicks import Click, click_maps, next_click
from .model import ClickHead, HeadConfig
from .residual import FeatureSettings, ImageFeatures, NormalReference
from .seg_detector import AdClickSegDetector  # registers the "adclick-seg" detection method
from .session import ClickModel, ClickSession, load_click_model

__all__ = [
    "AdClickSegDetector",
    "DEFAULT_CHECKPOINT",
    "Click",
    "ClickConfig",
    "ClickHead",
    "ClickModel",
    "ClickSession",
    "FeatureSettings",
    "HeadConfig",
    "ImageFeatures",
    "NormalReference",
    "click_maps",
    "load_checkpoint",
    "load_click_model",
    "next_click",
    "save_checkpoint",
]
