"""Few-shot detectors: ``fit`` on a few normal images, ``predict`` -> Prediction.

Each detector registers itself in ``DETECTORS`` where it is defined; importing
this package imports them all, so ``DETECTORS.names()`` is complete, except
the two comparison baselines of the compositional bench (``comad``,
``winclip``: :mod:`.comad`, :mod:`.winclip`), which register when imported and
are not offered by the command line.
"""

from ..errors import NotFittedError
from .base import DETECTORS, Detector, Prediction, clone, create_detector
from .compositional import CompositionalDetector
from .load import load_detector
from .onnx_runtime import OnnxDetector
from .parallel import PREDICT_CHUNK, chunk_size
from .patch_knn import PatchKNNDetector

__all__ = ["DETECTORS", "Detector", "NotFittedError", "Prediction", "clone", "create_detector",
           "PatchKNNDetector", "CompositionalDetector", "OnnxDetector", "load_detector",
           "PREDICT_CHUNK", "chunk_size"]
