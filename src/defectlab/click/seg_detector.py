"""``adclick-seg``: the ADClick head, fine-tuned by ``seg-train``, as a detector.

``fit(normal_images)`` builds the product's normal reference with the feature
settings the checkpoint records; ``predict`` runs the head with no clicks
(:meth:`ClickSession.segment`) and returns its probability map at the
image's size as the anomaly map.

Score rule: the maximum of the probability map after Gaussian smoothing
(``sigma`` image pixels, default 4, as the other detectors smooth their maps).
The probability is already calibrated by training (0.5 = the head's mask
boundary); smoothing keeps a few isolated hot pixels from deciding the score
(one pixel at 1.0 scores 0.01) while a defect a dozen pixels across keeps most
of its probability (0.75 for a 12-pixel square at 1.0), which a mean over the
top 1 % of pixels (patch kNN's rule) would dilute on large images.

The threshold, as for every detector, is the highest leave-one-out score of
the normal images: each normal image compared with the reference without
itself.

Registered into ``defectlab.detect.DETECTORS`` from here because the click
layer sits above detect; ``import defectlab.click`` (which the command line
does) makes ``adclick-seg`` a method name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.checks import image_list
from ..data.io import load_image
from ..detect import persist
from ..detect.base import DETECTORS, Detector, Prediction
from ..errors import ConfigError
from .checkpoint import config_path
from .residual import ImageFeatures, NormalReference
from .session import ClickSession, load_click_model


def checkpoint_exists(path) -> bool:
    """Whether ``path`` names a click-head checkpoint: NAME.safetensors with NAME.json beside it."""
    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_suffix(".safetensors")
    return p.is_file() and config_path(p).is_file()


def is_click_checkpoint(path) -> bool:
    """Whether ``path`` is a click-head checkpoint (seg-train, click-train), not a fitted detector (fit)."""
    try:
        header = json.loads(config_path(Path(path).with_suffix(".safetensors")).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and "head" in header and "format" not in header


def smoothed_max(probability: np.ndarray, sigma: float) -> float:
    """The documented image score: max of the probability map smoothed by a Gaussian of ``sigma`` px."""
    if sigma > 0:
        probability = cv2.GaussianBlur(probability, (0, 0), sigma)
    return float(probability.max())


@DETECTORS.register("adclick-seg")
class AdClickSegDetector(Detector):
    """
    Parameters
    ----------
    model: the ``seg-train`` checkpoint (.safetensors); None uses the shipped
        ADClick head unchanged (not trained on the product: a weak baseline).
    prompt: a defect description given to the head; None (default) scores
        without one, as the head was trained to half of the time.
    sigma: smoothing of the probability map for the image score, in image pixels.
    max_normals: at most this many normal images in the reference (sampled
        evenly in the order given); the checkpoint was trained with 64.
    progress: progress bars.

    Fitted attributes: ``reference_`` (the normal reference), ``normal_scores_``, ``threshold_``.
    """

    _fitted_attribute = "reference_"

    def __init__(self, model: str | None = None, prompt: str | None = None, sigma: float = 4.0,
                 max_normals: int = 64, progress: bool = True):
        self.model = model
        self.prompt = prompt
        self.sigma = sigma
        self.max_normals = max_normals
        self.progress = progress

    @property
    def click_model_(self):
        return load_click_model(None if self.model is None else str(self.model))

    def fit(self, normal_images: Sequence) -> "AdClickSegDetector":
        if self.sigma < 0:
            raise ConfigError(f"sigma must be >= 0, got {self.sigma}")
        normal_images = image_list("normal_images", normal_images)
        if len(normal_images) == 0:
            raise ConfigError("fit() needs at least one normal image")
        step = max(1, -(-len(normal_images) // self.max_normals))
        chosen = list(normal_images)[::step][: self.max_normals]
        images = [load_image(x) for x in chosen]
        self.reference_ = self.click_model_.reference(images, progress=self.progress)
        self.normal_scores_ = []
        if len(images) > 1:
            bar = tqdm(images, desc="normal scores", unit="img", disable=not self.progress or len(images) < 4)
            for i, image in enumerate(bar):
                feats = self.reference_.features(image, exclude=[i])
                self.normal_scores_.append(self.score(self.probability(image, feats)))
        self._set_threshold()
        return self

    def probability(self, image, features: ImageFeatures | None = None) -> np.ndarray:
        """float32 (H, W) defect probability at the image's size (the head with no clicks)."""
        self._check_fitted("reference_")
        with torch.inference_mode():
            return ClickSession(image, self.reference_, prompt=self.prompt, model=self.click_model_,
                                features=features).segment()

    def score(self, probability: np.ndarray) -> float:
        return smoothed_max(probability, self.sigma)

    def _predict_image(self, image: np.ndarray, source: str) -> Prediction:
        prob = self.probability(image)
        return Prediction(score=self.score(prob), anomaly_map=prob, source=source)

    def normal_scores(self) -> list[float]:
        self._check_fitted("reference_", "normal_scores()")
        return list(self.normal_scores_)

    # -- saving: the reference's patches and scale; the head stays the checkpoint named by ``model``
    def _state(self):
        self._check_fitted("reference_", "save()")
        ref = self.reference_
        arrays = {"patches": torch.cat(ref.patches).numpy(),
                  "lengths": np.array([len(p) for p in ref.patches], np.int64)}
        state = {"resizer": persist.resizer_state(ref.resizer), "scale": ref.scale,
                 "features": ref.settings.to_dict(), "normal_scores": self.normal_scores_}
        return state, arrays

    def _restore(self, state, arrays) -> None:
        settings = self.click_model_.config.features
        if settings.to_dict() != state["features"]:
            raise ConfigError(f"the saved reference was built with {state['features']}, but the checkpoint "
                              f"{self.model} expects {settings.to_dict()}; fit again")
        ends = np.cumsum(arrays["lengths"])
        rows = torch.from_numpy(np.ascontiguousarray(arrays["patches"]))
        patches = [rows[s:e] for s, e in zip(np.concatenate([[0], ends[:-1]]), ends)]
        ref = NormalReference.from_patches(patches, settings, persist.restore_resizer(state["resizer"]), state["scale"])
        self.reference_ = ref
        self.normal_scores_ = list(state["normal_scores"])

