"""Loading a fitted detector saved with :meth:`Detector.save` or ``defectlab fit``."""

from __future__ import annotations

import os

from . import persist
from .base import DETECTORS, Detector


def load_detector(path: str | os.PathLike, method: str | None = None, **overrides) -> Detector:
    """The detector saved at ``path``, ready to ``predict()``; no normal images needed.

    ``path``: NAME.safetensors, NAME.json or NAME (written by :meth:`Detector.save`
    or ``defectlab fit``). ``method``,
    when given, is the method expected; a model of another method is an error.
    ``overrides`` set parameters that do not change what was learnt, such as
    ``device`` or ``progress``.
    """
    header, arrays = persist.read_model(path, method)
    detector = DETECTORS.create(header["method"], **header["params"]).set_params(**overrides)
    detector._restore(header["state"], arrays)
    detector.threshold_ = header["state"]["threshold"]
    return detector
