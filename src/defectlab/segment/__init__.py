"""Segmentation into parts, and alignment of parts across images.

The first two stages of the compositional detector
(:mod:`defectlab.detect.compositional`), usable on their own:

>>> from defectlab.segment import create_segmenter, create_aligner, View
>>> seg = create_segmenter("feature-cluster")
>>> parts = seg.segment(image)                      # Segmentation: labels 0..n
>>> aligner = create_aligner("hungarian").fit(View(reference, seg.segment(reference)))
>>> classes = aligner.align(View(image, parts))     # ClassMap: ids shared across images
"""

# the definitions register themselves: importing them all completes the registries
from . import feature_cluster, sam  # noqa: F401
from .aligners import codebook, hungarian, nearest, propagator  # noqa: F401
from .aligners.base import Aligner, ClassMap, View
from .base import Segmentation, Segmenter
from .factory import create_aligner, create_segmenter
from .registry import ALIGNERS, SEGMENTERS
from .visualize import colourise, save_class_map

__all__ = [
    "ALIGNERS",
    "SEGMENTERS",
    "Aligner",
    "ClassMap",
    "Segmentation",
    "Segmenter",
    "View",
    "colourise",
    "create_aligner",
    "create_segmenter",
    "save_class_map",
]
