"""ComAD-style baseline: components by k-means on backbone features, scored by their areas and looks.

After ComAD (Liu et al., "Component-aware anomaly detection framework for
adjustable and logical industrial visual inspection", 2023): no segmenter and
no alignment. The normal shots' patch features are clustered by k-means; the
clusters are the "components", and a patch's nearest centre is its component
in every image, so ids are shared across images by construction. Each image
is described by

- ``histogram``: the share of patches of each component (how much of each
  part there is: missing, extra, wrong count);
- ``component``: the mean feature of each component (what each part looks
  like: wrong colour, a swapped part pulls its component's mean);
- ``patch``: the worst 2 % of nearest-normal patch distances (the structural
  branch; ComAD pairs its logical branch with a patch detector).

Each is compared with every normal shot (worst component, nearest shot), and
the three are divided by their largest leave-one-out score among the shots
(1 = as unusual as the most unusual normal shot, as in
:mod:`defectlab.detect.fusion`) and summed. A comparison baseline for the
compositional detector (bench/compositional_real_compare.py), not tuned.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..backbones import DEFAULT_BACKBONE, Backbone, resolve_device
from ..backbones.embedder import upsample_map
from ..backbones.knn import CosineIndex, kmeans, normalise
from ..backbones.resize import Resizer
from ..data.checks import image_list, positive_int
from ..data.io import load_image
from ..errors import ConfigError
from . import fusion, persist
from .base import DETECTORS, Detector, PatchFeatures, Prediction
from .patch_knn import top_percent_mean

# one-shot units (no leave-one-out possible): a component 50 % larger or a third
# smaller; a mean-feature cosine drift of 0.05; the patch unit of the compositional detector
UNITS = {"histogram": float(np.log(1.5)), "component": 0.05, "patch": 0.15}
EPS = 0.005  # area share that keeps an absent component finite (as class-histogram)


@DETECTORS.register("comad")
class ComADDetector(PatchFeatures, Detector):
    """
    Parameters
    ----------
    backbone, image_size, resize, layers, pool, batch_size, device, precision: as for patch kNN.
    n_components: k of k-means (5: about the number of part kinds in a LOCO category).
    top_percent: worst share of patches averaged by the patch score.
    seed: k-means seed.

    Fitted attributes: ``resizer_``, ``centres_``, ``index_`` (all normal
    patches), ``bank_`` (per normal shot: areas and component means),
    ``weights_``, ``normal_scores_``.
    """

    _fitted_attribute = "centres_"

    def __init__(self, backbone: str | Backbone = DEFAULT_BACKBONE, image_size: int = 256, resize: str = "auto",
                 layers: Sequence[str] | None = None, pool: int = 3, n_components: int = 5,
                 top_percent: float = 2.0, seed: int = 0, sigma: float = 4.0, batch_size: int = 8,
                 device: str = "auto", precision: str = "fp32", progress: bool = True):
        self.backbone = backbone
        self.image_size = image_size
        self.resize = resize
        self.layers = layers
        self.pool = pool
        self.n_components = n_components
        self.top_percent = top_percent
        self.seed = seed
        self.sigma = sigma
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.progress = progress

    def _features(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return [normalise(f.reshape(-1, f.shape[-1]).astype(np.float32)).reshape(f.shape)
                for f in self.embedder_.embed_numpy(images, self.resizer_)]

    def _describe(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(areas (k,), unit component means (k, D)) of one image's unit patch rows."""
        assign = (flat @ self.centres_.T).argmax(1)
        k = len(self.centres_)
        areas = np.bincount(assign, minlength=k) / len(flat)
        means = np.stack([flat[assign == j].mean(0) if (assign == j).any() else np.zeros(flat.shape[1])
                          for j in range(k)])
        return areas, normalise(means.astype(np.float32))

    @staticmethod
    def _raw(areas, means, bank) -> dict[str, float]:
        """Histogram and component scores against the normal shots in ``bank``: worst component, nearest shot."""
        hist, comp = [], []
        for a, m in bank:
            hist.append(float(np.abs(np.log((areas + EPS) / (a + EPS))).max()))
            both = (areas > 0) & (a > 0)
            comp.append(float((1 - (means[both] * m[both]).sum(1)).max()) if both.any() else 0.0)
        return {"histogram": min(hist), "component": min(comp)}

    def fit(self, normal_images: Sequence) -> "ComADDetector":
        positive_int("n_components", self.n_components)
        if not 0 < self.top_percent <= 100:
            raise ConfigError(f"top_percent must be in (0, 100], got {self.top_percent}")
        normal_images = image_list("normal_images", normal_images)
        if len(normal_images) == 0:
            raise ConfigError("fit() needs at least one normal image")
        images = [load_image(x) for x in normal_images]
        self.resizer_ = Resizer(self.resize, self.image_size).fit([im.shape[:2] for im in images])
        feats = [f.reshape(-1, f.shape[-1]) for f in self._features(images)]
        rows = np.concatenate(feats)
        sample = rows[np.random.default_rng(self.seed).permutation(len(rows))[:20000]]
        self.centres_ = kmeans(sample, self.n_components, self.seed)
        self.bank_ = [self._describe(f) for f in feats]
        self.index_ = CosineIndex(rows, device=resolve_device(self.device), normalised=True)
        loo: dict[str, list[float]] = {n: [] for n in UNITS}
        if len(feats) >= 2:
            ends = np.cumsum([len(f) for f in feats])
            for i, f in enumerate(feats):
                raw = self._raw(*self.bank_[i], self.bank_[:i] + self.bank_[i + 1:])
                raw["patch"] = top_percent_mean(self.index_.distance_outside(f, ends[i] - len(f), ends[i]),
                                                self.top_percent)
                for n in UNITS:
                    loo[n].append(raw[n])
            self.weights_ = {n: max(max(v), fusion.FLOOR * UNITS[n]) for n, v in loo.items()}
            self.normal_scores_ = [sum(loo[n][i] / self.weights_[n] for n in UNITS) for i in range(len(feats))]
        else:
            self.weights_, self.normal_scores_ = dict(UNITS), []
        self._set_threshold()
        return self

    def normal_scores(self) -> list[float]:
        self._check_fitted("centres_", "normal_scores()")
        return list(self.normal_scores_)

    def _predict_image(self, image: np.ndarray, source: str) -> Prediction:
        feat = self._features([image])[0]
        flat = feat.reshape(-1, feat.shape[-1])
        raw = self._raw(*self._describe(flat), self.bank_)
        dist = self.index_.distance(flat)
        raw["patch"] = top_percent_mean(dist, self.top_percent)
        parts = {n: raw[n] / self.weights_[n] for n in UNITS}
        amap = upsample_map(dist.reshape(feat.shape[:2]) / self.weights_["patch"], image.shape[:2], self.sigma)
        return Prediction(float(sum(parts.values())), amap, source, details={"scores": parts})

    def _state(self):
        self._check_fitted("centres_", "save()")
        arrays = {"centres": self.centres_, "bank": self.index_.bank,
                  "areas": np.stack([a for a, _ in self.bank_]), "means": np.stack([m for _, m in self.bank_])}
        return {"resizer": persist.resizer_state(self.resizer_), "weights": self.weights_,
                "normal_scores": self.normal_scores_}, arrays

    def _restore(self, state, arrays):
        self.resizer_ = persist.restore_resizer(state["resizer"])
        self.centres_ = arrays["centres"]
        self.index_ = CosineIndex(arrays["bank"], device=resolve_device(self.device), normalised=True)
        self.bank_ = list(zip(arrays["areas"], arrays["means"]))
        self.weights_, self.normal_scores_ = state["weights"], list(state["normal_scores"])
