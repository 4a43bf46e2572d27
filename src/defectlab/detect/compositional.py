"""Compositional few-shot detector for logical and structural anomalies.

Patch kNN sees surfaces; it cannot see that a part is missing, doubled,
swapped, misplaced or the wrong colour, because every patch of such an image
still looks like some normal patch. This detector reads the composition,
after a few-shot challenge entry on MVTec LOCO AD (SAM + segment alignment +
DINOv2 + seven feature similarities), in five swappable stages:

1. segment each image into parts (:mod:`defectlab.segment`: SAM, or the
   offline feature-cluster segmenter that needs no downloaded weights);
2. align: give parts class ids shared across images (part kinds learnt from
   all the shots, the default; Hungarian or nearest matching to a reference
   shot; or a video-segmentation propagator);
3. describe with the seven descriptors (:mod:`.descriptors`): three structural
   (class-agnostic, class-aware and foreground patch features) and four
   logical (per class: mean feature, area, colour, location); the default
   uses six, leaving out the class-aware patch one (why: at
   :data:`defectlab.detect.descriptors.DEFAULT`);
4. score each against a memory bank of the k normal shots;
5. fuse without labels (:mod:`.fusion`): each score divided by the largest
   leave-one-out score of the normal shots; the structural and the logical
   scores are summed within their group, each group divided again by its
   own largest leave-one-out score, and the groups combined (``fusion``), so
   that neither kind of evidence drowns the other in its noise.

``Prediction.details`` explains each image: every descriptor's normalised
score, the class that drove the logical ones and why ("class 3: area 0.0 %,
expected about 9 %: missing part"), and the class map (save it with
:func:`defectlab.detect.explain.save_class_maps`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..backbones import DEFAULT_BACKBONE, Backbone, resolve_device
from ..backbones.resize import Resizer
from ..data.checks import image_list
from ..data.io import load_image
from ..errors import ConfigError
from ..segment import View, create_aligner, create_segmenter
from ..segment.aligners.base import Aligner, ClassMap
from ..segment.base import Segmentation, Segmenter
from . import explain, fusion, persist
from .base import DETECTORS, Detector, PatchFeatures, Prediction, source_name
from .descriptors import DESCRIPTORS, STRUCTURAL, Parse, create_descriptors, resolve


@dataclass(eq=False)
class Observation:
    """An image after the stages that do not depend on the normal images.

    Resizing, backbone features and segmentation are computed once per image;
    :meth:`CompositionalDetector.fit` and :meth:`~CompositionalDetector.predict`
    accept observations in place of images, so a benchmark that fits several
    support sets scores each test image's expensive stages only once.
    """

    image: np.ndarray  # (H', W', 3) uint8 at the working size
    features: np.ndarray  # (h, w, D) float32
    segmentation: Segmentation
    shape: tuple[int, int]  # original (H, W): maps come back at this size
    source: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def view(self) -> View:
        return View(self.image, self.segmentation, self.features)


@DETECTORS.register("compositional")
class CompositionalDetector(PatchFeatures, Detector):
    """
    Parameters
    ----------
    backbone: registry name, hub id or local directory of the feature
        backbone (DINOv2 in the reference; the offline default works too),
        or a loaded :class:`Backbone`; a name is loaded on first use.
    segmenter: "auto" (SAM if its weights are on this machine, else the
        offline "feature-cluster"), "feature-cluster", "sam", a SAM
        checkpoint directory or hub id, or a :class:`Segmenter`.
    aligner: "codebook" (default: part kinds by k-means on all the shots'
        features, no matching; it measured ahead of matching on real photos,
        see :mod:`defectlab.segment.aligners.codebook`), "hungarian",
        "nearest", "sam2", or an :class:`Aligner`.
    descriptors: "default" (all but class-patch: why at
        :data:`defectlab.detect.descriptors.DEFAULT`), "full" (all seven),
        "vand" (patch + foreground-patch + class-histogram), or a list /
        comma-separated names.
    image_size, resize: working size and policy (see
        :mod:`defectlab.backbones.resize`); 256 keeps CPU time low, the
        reference ran DINOv2 at 518.
    layers, pool: backbone layers and neighbourhood averaging of patch
        features, as for patch kNN.
    top_percent: worst share of patches averaged by the patch descriptors.
    reference: index, among the normal images, of the one whose parts define
        the classes.
    sigma: Gaussian smoothing of the anomaly map, in image pixels.
    fusion: how the normalised descriptor scores become one score
        (:data:`defectlab.detect.fusion.MODES`): "sum" of all (the reference's
        rule), or the self-normalised structural and logical group scores
        combined by "group-max", "group-sum" or "group-l2"; the default and
        why: :mod:`defectlab.detect.fusion`.
    segmenter_kwargs, aligner_kwargs: constructor arguments of the stages
        (for example ``{"model": "path/to/sam"}``).
    descriptor_options: ``{descriptor name: constructor arguments}``.
    device: "auto" (CUDA when available), "cpu", "cuda", ...: where the
        backbone (and SAM) run.
    precision: "fp32" or "bf16", the backbone's arithmetic (as for patch kNN).

    Fitted attributes: ``resizer_`` (also set by :meth:`observe` before a
    fit), ``normal_views_`` (each shot's image, parts and features),
    ``reference_view_`` (the reference shot's), ``aligner_`` (fitted on
    them), ``normal_parses_``,
    ``descriptors_`` (fitted on all normal images), ``weights_`` (the fusion
    weight of each descriptor), ``loo_scores_`` (each descriptor's raw
    leave-one-out scores of the normal images; empty with one) and
    ``threshold_``. Built on first use: ``embedder_``, ``segmenter_``.
    """

    def __init__(
        self,
        backbone: str | Backbone = DEFAULT_BACKBONE,
        segmenter: str | Segmenter = "auto",
        aligner: str | Aligner = "codebook",
        descriptors: str | Sequence[str] = "default",
        image_size: int = 256,
        resize: str = "auto",
        layers: Sequence[str] | None = None,
        pool: int = 3,
        top_percent: float = 2.0,
        reference: int = 0,
        sigma: float = 4.0,
        fusion: str = fusion.DEFAULT_MODE,
        segmenter_kwargs: dict | None = None,
        aligner_kwargs: dict | None = None,
        descriptor_options: dict[str, dict] | None = None,
        batch_size: int = 8,
        device: str = "auto",
        precision: str = "fp32",
        progress: bool = True,
    ):
        self.backbone = backbone
        self.segmenter = segmenter
        self.aligner = aligner
        self.descriptors = descriptors
        self.image_size = image_size
        self.resize = resize
        self.layers = layers
        self.pool = pool
        self.top_percent = top_percent
        self.reference = reference
        self.sigma = sigma
        self.fusion = fusion
        self.segmenter_kwargs = segmenter_kwargs
        self.aligner_kwargs = aligner_kwargs
        self.descriptor_options = descriptor_options
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.progress = progress

    @property
    def segmenter_(self) -> Segmenter:
        """The segmenter, built on first use and kept across fits."""
        kwargs = dict(self.segmenter_kwargs or {})
        device = resolve_device(self.device)
        if device.type != "cpu" and isinstance(self.segmenter, str):
            kwargs.setdefault("device", str(device))  # the segmenter runs where the backbone runs
        return self._part("segmenter", create_segmenter, self.segmenter, **kwargs)

    def _descriptor_options(self) -> dict[str, dict]:
        options = {name: dict(opts) for name, opts in (self.descriptor_options or {}).items()}
        for name in STRUCTURAL:  # the patch descriptors
            options.setdefault(name, {}).setdefault("top_percent", self.top_percent)
        unknown = set(options) - set(DESCRIPTORS)
        if unknown:
            raise ConfigError(f"descriptor_options for unknown descriptors {sorted(unknown)}; "
                              f"known: {DESCRIPTORS.names()}")
        return options

    # -- stage 0 + 1: resize, features, segments ---------------------------------
    def observe(self, images: Sequence) -> list[Observation]:
        """Resize, extract features and segment (the work that does not depend on the normal images).

        Before a fit, the images given here decide the working size (``resizer_``).
        """
        items = [x if isinstance(x, Observation) else None for x in images]
        todo = [i for i, x in enumerate(items) if x is None]
        if not todo:
            return items  # type: ignore[return-value]
        loaded = [load_image(images[i]) for i in todo]
        if getattr(self, "resizer_", None) is None:
            self.resizer_ = Resizer(self.resize, self.image_size).fit([im.shape[:2] for im in loaded])
        bar = tqdm(total=len(todo), desc="parsing", unit="img", disable=not self.progress or len(todo) < 4)
        for i, image in zip(todo, loaded):
            items[i] = self._observe_one(image, source_name(images[i]))
            bar.update(1)
        bar.close()
        return items  # type: ignore[return-value]

    def _observe_one(self, image: np.ndarray, source: str) -> Observation:
        size = self.embedder_.model_size(image.shape[:2], self.resizer_)
        # the working image is what the segmenter and the descriptors see, so the
        # backbone gets it too (area-averaged, not the backbone's own resize)
        work = image if image.shape[:2] == size else cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        t0 = time.perf_counter()
        feats = self.embedder_.embed([work], [size])[0][0].permute(1, 2, 0).cpu().numpy()
        t1 = time.perf_counter()
        seg = self.segmenter_.segment(work)
        t2 = time.perf_counter()
        return Observation(work, feats, seg, tuple(image.shape[:2]), source,
                           {"features": t1 - t0, "segment": t2 - t1})

    # -- fit -----------------------------------------------------------------
    def fit(self, normal_images: Sequence) -> "CompositionalDetector":
        normal_images = image_list("normal_images", normal_images)
        self._check_fusion()  # before the expensive part of fit
        names, options = resolve(self.descriptors), self._descriptor_options()
        if len(normal_images) == 0:
            raise ConfigError("fit() needs at least one normal image")
        if not 0 <= self.reference < len(normal_images):
            raise ConfigError(
                f"reference index {self.reference} is out of range for {len(normal_images)} normal image(s)"
            )
        if not all(isinstance(x, Observation) for x in normal_images):
            self.resizer_ = None  # a new support set decides the working size afresh
        observations = self.observe(normal_images)
        self.normal_views_ = [o.view() for o in observations]
        self._fit_aligner()
        self.normal_parses_ = [self._parse(o)[0] for o in observations]
        make = lambda: create_descriptors(names, options)  # noqa: E731
        if len(self.normal_parses_) >= 2:
            self.weights_, self.loo_scores_ = fusion.leave_one_out_weights(make, self.normal_parses_)
        else:
            self.weights_, self.loo_scores_ = fusion.fixed_weights(make()), {}
        self.descriptors_ = [d.fit(self.normal_parses_) for d in make()]
        self._set_group_weights()
        self._set_threshold()
        return self

    def _fit_aligner(self) -> None:
        self.reference_view_ = self.normal_views_[self.reference]
        aligner = create_aligner(self.aligner, **(self.aligner_kwargs or {}))
        self.aligner_ = aligner.fit(self.reference_view_, self.normal_views_)

    def _check_fusion(self) -> None:
        if self.fusion not in fusion.MODES:
            raise ConfigError(f"fusion must be one of {fusion.MODES}, got {self.fusion!r}")

    def _set_group_weights(self) -> None:
        """Called by fit and by loading, once the descriptors are fitted."""
        self._check_fusion()
        self.kinds_ = {d.name: d.kind for d in self.descriptors_}
        loo = {n: [v / self.weights_[n] for v in vals] for n, vals in self.loo_scores_.items()}
        self.group_weights_ = fusion.group_weights(loo, self.kinds_)

    def _fuse(self, normalised: dict[str, float]) -> tuple[float, dict[str, float]]:
        """(image score, self-normalised group scores) from the normalised descriptor scores."""
        groups = {g: v / self.group_weights_[g] for g, v in fusion.group_raw(normalised, self.kinds_).items()}
        if self.fusion == "sum":
            return fusion.fuse(normalised), groups
        return fusion.combine(groups, self.fusion), groups

    def _state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The normal parses and segments: descriptors and aligner refit from them exactly as
        fit() fitted them; fusion weights and leave-one-out scores as computed."""
        self._check_fitted("descriptors_", "save()")
        arrays = {}
        parses = []
        for j, (parse, view) in enumerate(zip(self.normal_parses_, self.normal_views_)):
            arrays.update({f"parse{j}/image": parse.image, f"parse{j}/features": parse.features,
                           f"parse{j}/classes": parse.classes.labels, f"parse{j}/segments": view.segmentation.labels})
            assignment = [[int(seg), int(cls)] for seg, cls in parse.classes.assignment.items()]
            parses.append({"n_classes": parse.n_classes, "assignment": assignment, "source": parse.source})
        state = {"resizer": persist.resizer_state(self.resizer_), "parses": parses,
                 "segments_source": self.reference_view_.segmentation.source,
                 "weights": self.weights_, "loo_scores": self.loo_scores_}
        return state, arrays

    def _restore(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.resizer_ = persist.restore_resizer(state["resizer"])
        self.normal_parses_ = [
            Parse(arrays[f"parse{j}/image"], arrays[f"parse{j}/features"],
                  ClassMap(arrays[f"parse{j}/classes"], p["n_classes"], dict(map(tuple, p["assignment"]))), p["source"])
            for j, p in enumerate(state["parses"])
        ]
        self.normal_views_ = [View(p.image, Segmentation(arrays[f"parse{j}/segments"], state["segments_source"]),
                                   p.features) for j, p in enumerate(self.normal_parses_)]
        self._fit_aligner()
        self.weights_, self.loo_scores_ = state["weights"], state["loo_scores"]
        names, options = resolve(self.descriptors), self._descriptor_options()
        self.descriptors_ = [d.fit(self.normal_parses_) for d in create_descriptors(names, options)]
        self._set_group_weights()

    def normal_scores(self) -> list[float]:
        """Each normal shot's fused score against the other shots, from fit()'s leave-one-out.

        A flagging threshold for free (their maximum), with no extra fits;
        empty with one shot.
        """
        self._check_fitted("loo_scores_", "normal_scores()")
        if not self.loo_scores_:
            return []
        k = len(next(iter(self.loo_scores_.values())))
        return [self._fuse({n: self.loo_scores_[n][i] / self.weights_[n] for n in self.loo_scores_})[0]
                for i in range(k)]

    def _parse(self, obs: Observation) -> tuple[Parse, float]:
        t = time.perf_counter()
        classes = self.aligner_.align(obs.view())
        return Parse(obs.image, obs.features, classes, obs.source), time.perf_counter() - t

    # -- predict ---------------------------------------------------------------
    def predict(self, images: Sequence) -> list[Prediction]:
        self._check_fitted("descriptors_")
        images = image_list("images", images)
        results = []
        for item in tqdm(images, desc="scoring", unit="img", disable=not self.progress or len(images) < 4):
            results.append(self._predict_one(self.observe([item])[0]))
        return results

    def _predict_one(self, obs: Observation) -> Prediction:
        parse, t_align = self._parse(obs)
        t0 = time.perf_counter()
        scores = {d.name: d.score(parse) for d in self.descriptors_}
        t1 = time.perf_counter()
        normalised = fusion.normalise({n: s.value for n, s in scores.items()}, self.weights_)
        score, groups = self._fuse(normalised)
        amap = explain.anomaly_map(parse, scores, self.weights_, obs.shape, self.sigma)
        t2 = time.perf_counter()
        per = explain.descriptor_details(scores, self.weights_, self.kinds_)
        details = explain.CompositionalDetails(
            descriptors=per,
            explanation=explain.summary(per, groups),
            groups=groups,
            class_map=parse.classes.labels,
            n_classes=parse.n_classes,
            unknown_class=parse.unknown,
            segments=obs.segmentation.n_segments,
            timings={**obs.timings, "align": t_align, "describe": t1 - t0, "fuse": t2 - t1},
        )
        return Prediction(score=score, anomaly_map=amap, source=obs.source, details=details)
