"""Loading a fitted detector: a saved model (``defectlab fit``) or an exported ONNX file (``defectlab export``)."""

from __future__ import annotations

import os
from pathlib import Path

from . import persist
from .base import DETECTORS, Detector
from .onnx_runtime import OnnxDetector


def load_detector(path: str | os.PathLike, method: str | None = None, **overrides) -> Detector | OnnxDetector:
    """The detector saved at ``path``, ready to ``predict()``; no normal images needed.

    ``path``: NAME.safetensors, NAME.json or NAME (written by :meth:`Detector.save`
    or ``defectlab fit``), or a .onnx file (``defectlab export``), which scores
    through ONNX Runtime with the same pre- and post-processing. ``method``,
    when given, is the method expected; a model of another method is an error.
    ``overrides`` set parameters that do not change what was learnt, such as
    ``device`` or ``progress``.
    """
    if Path(path).suffix == ".onnx":
        return OnnxDetector(path, method=method, **overrides)
    header, arrays = persist.read_model(path, method)
    detector = DETECTORS.create(header["method"], **header["params"]).set_params(**overrides)
    detector._restore(header["state"], arrays)
    detector.threshold_ = header["state"]["threshold"]
    return detector
