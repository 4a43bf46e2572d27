"""Few-shot detectors: ``fit`` on a few normal images, ``predict`` -> Prediction."""

from .base import Detector, NotFittedError, Prediction
from .factory import METHODS, create_detector
from .patch_knn import PatchKNNDetector

__all__ = ["Detector", "NotFittedError", "Prediction", "METHODS", "create_detector", "PatchKNNDetector"]
