"""The detector contract every method follows (scikit-learn style).

- The constructor only stores its parameters: no weights load, nothing is
  validated that needs data. ``get_params``, ``set_params``, :func:`clone` and
  ``repr`` are read from the constructor's signature. Parts built from
  parameters (a feature extractor, a segmenter) are built on first use and
  kept until those parameters change (:meth:`Detector._part`).
- ``fit(normal_images)`` learns from a few normal images; everything it learns
  ends in ``_``, among it ``threshold_``: the flagging threshold taken from
  the normal images themselves (the highest leave-one-out score of a normal
  image against the others; ``None`` with a single normal image).
- ``predict(images)`` returns one :class:`Prediction` per image; images are
  anything :func:`defectlab.data.load_image` accepts: paths, PIL images or arrays.
- ``save(path)`` writes the fitted detector (:mod:`.persist`: safetensors +
  JSON, no pickle); :func:`defectlab.detect.load_detector` reads it back and
  scores as the saved one did, without the normal images.
"""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence, TypeVar

import numpy as np
from tqdm.auto import tqdm

from ..backbones import Backbone
from ..backbones.embedder import PatchEmbedder
from ..data.checks import image_list
from ..data.io import load_image
from ..errors import ConfigError, NotFittedError
from ..registry import Registry
from . import parallel, persist
from .threshold import false_alarm_threshold

DETECTORS: Registry["Detector"] = Registry("detection method")
T = TypeVar("T")


@dataclass
class Prediction:
    """Result for one image: a scalar score (higher = more anomalous), a
    per-pixel anomaly map at the image's own resolution and, for methods that
    explain themselves, typed ``details``."""

    score: float
    anomaly_map: np.ndarray  # (H, W) float32
    source: str = ""  # file name, or "" for in-memory images
    details: Any = None  # method-specific, e.g. compositional.CompositionalDetails

    @property
    def explanation(self) -> str:
        """One line saying why the image scored as it did ("" when the method does not say)."""
        return getattr(self.details, "explanation", "") or ""


class Detector(ABC):
    """Base class: subclasses implement ``fit``, ``predict`` and ``normal_scores``."""

    @abstractmethod
    def fit(self, normal_images: Sequence) -> "Detector":
        """Learn from normal images; sets the fitted attributes (ending in ``_``) and ``threshold_``."""

    # the attribute fit() sets that predict() needs; its absence means "not fitted"
    _fitted_attribute: ClassVar[str] = "threshold_"

    def predict(self, images: Sequence) -> list[Prediction]:
        """One :class:`Prediction` per image (a progress bar from four images on).

        Methods that allow it score several images at once on the CPU, one
        image per torch thread (:mod:`.parallel`).
        """
        self._check_fitted(self._fitted_attribute)
        images = image_list("images", images)
        workers = self._predict_workers(len(images))
        with tqdm(total=len(images), desc="scoring", unit="img",
                  disable=not getattr(self, "progress", False) or len(images) < 4) as bar:
            return parallel.map_in_order(lambda item: self._predict_image(load_image(item), source_name(item)),
                                         images, workers, done=bar.update)

    def _predict_workers(self, n_images: int) -> int:
        """How many images ``_predict_image`` may score at once; methods whose scoring is thread-safe say more."""
        return 1

    def _predict_image(self, image: np.ndarray, source: str) -> Prediction:
        """The prediction for one loaded RGB uint8 image; methods that score one image at a time define it."""
        raise NotImplementedError

    @abstractmethod
    def normal_scores(self) -> list[float]:
        """Each normal image of the last fit scored against the others
        (leave-one-out), from what fit() computed; [] with fewer than two."""

    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What fit() learnt, as (JSON values, arrays): with the parameters, all that predict() needs."""

    @abstractmethod
    def _restore(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Set the fitted attributes from what :meth:`_state` returned."""

    def predict_one(self, image) -> Prediction:
        return self.predict([image])[0]

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` .safetensors + .json; returns the .safetensors path.

        A backbone passed as an object is saved by its name (registry name,
        hub id or directory), from which it is loaded again.
        """
        state, arrays = self._state()
        return persist.write_model(path, self._method_name(), self._saved_params(),
                                   {**state, "threshold": self.threshold_}, arrays)

    def _saved_params(self) -> dict[str, Any]:
        # progress is how the fit was shown, not what it learnt: a model loads with the default, whoever fitted it
        return {k: v.name if isinstance(v, Backbone) else v for k, v in self.get_params().items() if k != "progress"}

    def _method_name(self) -> str:
        for name in DETECTORS:
            if DETECTORS.get(name) is type(self):
                return name
        raise ConfigError(f"{type(self).__name__} is not registered in DETECTORS, so it cannot be loaded back")

    # -- the fitted threshold ----------------------------------------------
    def _set_threshold(self) -> None:
        """Called at the end of ``fit``: the highest leave-one-out normal score."""
        self.threshold_ = max(self.normal_scores(), default=None)

    def threshold_at(self, false_alarm_rate: float) -> float | None:
        """The threshold for a chosen false-alarm rate on normal images, from the same
        leave-one-out scores (no refit; :func:`defectlab.detect.threshold.false_alarm_threshold`)."""
        return false_alarm_threshold(self.normal_scores(), false_alarm_rate)

    def _check_fitted(self, attribute: str, what: str = "predict()") -> None:
        if getattr(self, attribute, None) is None:
            raise NotFittedError(f"{type(self).__name__}: call fit(normal_images) before {what}")

    def _part(self, key: str, build: Callable[..., T], *args, **kwargs) -> T:
        """``build(*args, **kwargs)`` on first use, kept (weights stay loaded) while the arguments stay the same."""
        parts = self.__dict__.setdefault("_parts", {})
        if key not in parts or not _same(parts[key][0], (args, kwargs)):
            parts[key] = ((args, kwargs), build(*args, **kwargs))
        return parts[key][1]

    # -- parameters, from the constructor's signature ------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Detector":
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ConfigError(f"{type(self).__name__} has no parameter(s) {sorted(unknown)}; "
                              f"it takes {self._param_names()}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(shown)})"


def clone(detector: Detector) -> Detector:
    """A new, unfitted detector with the same parameters."""
    return type(detector)(**detector.get_params())


def create_detector(method: str = "patch-knn", **kwargs) -> Detector:
    """A detector by registry name (``DETECTORS.names()``)."""
    return DETECTORS.create(method, **kwargs)


def source_name(image) -> str:
    return str(image) if isinstance(image, (str, Path)) else ""


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and objects without a plain truth value
        return a is b


class PatchFeatures:
    """Mixin of detectors with ``backbone``, ``layers``, ``pool``, ``batch_size``, ``device`` and ``precision`` parameters."""

    @property
    def embedder_(self) -> PatchEmbedder:
        """The feature pipeline, built (weights loaded) on first use and kept across fits."""
        return self._part("embedder", PatchEmbedder, self.backbone, self.layers, self.pool,  # type: ignore[attr-defined]
                          batch_size=self.batch_size, device=self.device,  # type: ignore[attr-defined]
                          precision=self.precision)  # type: ignore[attr-defined]
