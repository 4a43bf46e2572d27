"""Scoring with an exported patch-kNN model (``defectlab export``) through ONNX Runtime.

The ONNX graph holds what depends on the weights and the memory bank:
backbone, patch pooling, nearest normal patch (a matrix product and a max)
and the bilinear upsampling of the distance map to the image. What comes
before and after runs here with the very code the torch path runs: the
resize and input normalisation (:meth:`Backbone.to_tensor`), the image score
(:func:`~defectlab.detect.patch_knn.top_percent_mean`) and the Gaussian
smoothing (:func:`~defectlab.backbones.embedder.smooth_map`), with the
settings the model carries in its metadata. So both paths agree to float
rounding (``defectlab export --check`` measures it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..backbones.base import Backbone, round_size
from ..backbones.embedder import smooth_map
from ..backbones.onnx_forward import open_session
from ..data.io import load_image
from ..errors import ConfigError, ModelNotFoundError
from . import persist
from .base import Prediction, source_name
from .parallel import map_in_order
from .patch_knn import top_percent_mean
from .threshold import false_alarm_threshold

METADATA_KEY = "defectlab"
INPUTS = ("image", "output_size")
OUTPUTS = ("patch_distances", "anomaly_map")


@dataclass
class ModelInput:
    """What the backbone's input needs besides its weights: written into the ONNX metadata at export."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size_multiple: int
    device = torch.device("cpu")
    # The backbone's own resize and normalisation, run without the backbone.
    to_tensor = Backbone.to_tensor


class OnnxDetector:
    """An exported patch-kNN detector: ``predict()`` as :class:`~defectlab.detect.PatchKNNDetector`'s.

    ``threads``: how many cores to use (default: torch's thread count, as the
    torch path). Several images are scored side by side, one thread each, as
    :class:`~defectlab.detect.PatchKNNDetector` does (:mod:`.parallel`): ONNX
    Runtime's intra-op threads scale poorly on one small image (two threads
    scored 44 images/s where one scored 72-80), and its ``run`` releases the
    GIL. A single image gets all the threads. ``progress`` shows a bar over
    many images. Attributes read from the file:
    ``threshold_``, ``resizer_``, ``top_percent``, ``sigma``, ``params`` (all
    the saved detector's parameters).
    """

    def __init__(self, path: str | os.PathLike, method: str | None = None, threads: int | None = None,
                 progress: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"no ONNX model at {self.path} (write one with `defectlab export`)")
        self.threads = threads
        self._sessions: dict[int, object] = {}
        meta = read_metadata(self._session(1).get_modelmeta().custom_metadata_map, self.path, method)
        self.params = meta["params"]
        self.top_percent, self.sigma = self.params["top_percent"], self.params["sigma"]
        self.resizer_ = persist.restore_resizer(meta["state"]["resizer"])
        self.normal_scores_ = list(meta["state"]["normal_scores"])
        self.threshold_ = meta["state"]["threshold"]
        self.input_ = ModelInput(**meta["input"])
        self.progress = progress

    def normal_scores(self) -> list[float]:
        return list(self.normal_scores_)

    def threshold_at(self, false_alarm_rate: float) -> float | None:
        """As :meth:`Detector.threshold_at`, from the leave-one-out scores the model carries."""
        return false_alarm_threshold(self.normal_scores_, false_alarm_rate)

    def predict(self, images: Sequence) -> list[Prediction]:
        images = list(images)
        workers = self._predict_workers(len(images))
        session = self._session(1 if workers > 1 else self.threads or torch.get_num_threads())

        def score(item) -> Prediction:
            image = load_image(item)
            size = round_size(self.resizer_.target(image.shape[:2]), self.input_.size_multiple)
            x = self.input_.to_tensor([image], size).numpy()
            dist, full = session.run(list(OUTPUTS), {"image": x, "output_size": np.array(image.shape[:2])})
            return Prediction(score=top_percent_mean(dist[0], self.top_percent),
                              anomaly_map=smooth_map(full[0], self.sigma), source=source_name(item))

        with tqdm(total=len(images), desc="scoring", unit="img", disable=not self.progress or len(images) < 4) as bar:
            return map_in_order(score, images, workers, bar.update)

    def _predict_workers(self, n_images: int) -> int:
        return max(1, min(self.threads or torch.get_num_threads(), n_images))

    def _session(self, threads: int):
        """The ONNX Runtime session at ``threads`` intra-op threads (one per thread count, made on first use)."""
        if threads not in self._sessions:
            self._sessions[threads] = open_session(str(self.path), threads)
        return self._sessions[threads]

    def predict_one(self, image) -> Prediction:
        return self.predict([image])[0]


def read_metadata(metadata: dict[str, str], path: Path, method: str | None) -> dict:
    """The defectlab header an exported model carries, checked like a saved model's (:mod:`.persist`)."""
    if METADATA_KEY not in metadata:
        raise ConfigError(f"{path} is an ONNX model but not one exported by defectlab (no {METADATA_KEY!r} metadata)")
    return persist.check_header(json.loads(metadata[METADATA_KEY]), path, method)
