"""Patch kNN detector (AnomalyDINO-style) for structural defects.

Every patch of a test image is compared to its nearest normal patch in a
memory bank built from the few normal images; a patch far from every normal
patch is anomalous. Image score = mean of the top 1 % patch distances (a
defect often covers a few patches only, the max alone is noisy). The map is
upsampled to the image and Gaussian-smoothed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from ..backbones import DEFAULT_BACKBONE, Backbone, resolve_device
from ..backbones.embedder import upsample_map
from ..backbones.knn import CosineIndex, greedy_coreset
from ..backbones.resize import Resizer
from ..data.checks import image_list, positive_int
from ..data.io import load_image
from ..errors import ConfigError
from . import parallel, persist
from .base import DETECTORS, Detector, PatchFeatures, Prediction

AUGMENTATIONS = ("none", "rotate", "rotate-flip")
# A coreset never keeps fewer rows than this: the 0.5-point AUROC bound behind the
# default share was measured at 8 shots, and a small bank (one or two shots) has
# little to spare; below it the search costs little anyway.
MIN_CORESET_ROWS = 1024


@DETECTORS.register("patch-knn")
class PatchKNNDetector(PatchFeatures, Detector):
    """
    Parameters
    ----------
    backbone: registry name, hub id or local directory (see ``defectlab.backbones``),
        or a loaded :class:`Backbone`; a name is loaded on first use.
    image_size, resize: how images are resized (see :mod:`defectlab.backbones.resize`).
    layers: backbone layers to concatenate; ``None`` uses the backbone's default.
    pool: neighbourhood averaging of patch features (1 = none).
    top_percent: share of most distant patches averaged into the image score.
    sigma: Gaussian smoothing of the anomaly map, in image pixels.
    augment: add rotated (and flipped) copies of the normal images to the bank;
        helps with 1-2 shots on rotation-invariant textures and parts.
    foreground: "none", or "pca" to ignore background patches (AnomalyDINO's
        masking: the first principal component of the normal patches splits
        object from background).
    coreset: share of the memory bank kept for scoring, chosen by greedy
        k-centre selection (PatchCore's coreset), but never fewer than
        ``MIN_CORESET_ROWS`` rows; 1.0 keeps every normal patch (exact). The
        default 0.1 lost at most 0.42 image-AUROC points on any of five real
        products at 8 shots and cut the search tenfold
        (bench/results/detect_speedups.md). Leave-one-out scores (and so the
        threshold) search each normal image against the coreset rows of the
        others, as a new image is searched against the coreset.
    device: "auto" (CUDA when available), "cpu", "cuda", ...: where the backbone runs.
    precision: "fp32" or "bf16", the backbone forward's arithmetic. bf16 is
        faster on hardware that multiplies it natively (a DINOv2-S forward about
        2.2x on an AVX-512 BF16 CPU) and moves image AUROC by up to 0.8 points
        (bench/results/detect_precision.md); the ONNX export computes in fp32,
        so only an fp32 model scores exactly as its export.

    Fitted attributes: ``resizer_``, ``index_`` (the memory bank), ``foreground_axis_``,
    ``normal_scores_`` (leave-one-out scores of the normal images), ``threshold_``.
    """

    _fitted_attribute = "index_"

    def __init__(
        self,
        backbone: str | Backbone = DEFAULT_BACKBONE,
        image_size: int = 256,
        resize: str = "auto",
        layers: Sequence[str] | None = None,
        pool: int = 3,
        top_percent: float = 1.0,
        sigma: float = 4.0,
        augment: str = "none",
        foreground: str = "none",
        coreset: float = 0.1,
        batch_size: int = 8,
        device: str = "auto",
        precision: str = "fp32",
        progress: bool = True,
    ):
        self.backbone = backbone
        self.image_size = image_size
        self.resize = resize
        self.layers = layers
        self.pool = pool
        self.top_percent = top_percent
        self.sigma = sigma
        self.augment = augment
        self.foreground = foreground
        self.coreset = coreset
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.progress = progress

    def _validate(self) -> None:
        positive_int("batch_size", self.batch_size)
        positive_int("pool", self.pool)
        if self.augment not in AUGMENTATIONS:
            raise ConfigError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if self.foreground not in ("none", "pca"):
            raise ConfigError(f"foreground must be 'none' or 'pca', got {self.foreground!r}")
        if not 0 < self.top_percent <= 100:
            raise ConfigError(f"top_percent must be in (0, 100], got {self.top_percent}")
        if not 0 < self.coreset <= 1:
            raise ConfigError(f"coreset must be a share in (0, 1], got {self.coreset}")

    # -- features ---------------------------------------------------------
    def embed(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """(h, w, D) patch features per image."""
        return self.embedder_.embed_numpy(images, self.resizer_)

    # -- fit / predict ----------------------------------------------------
    def fit(self, normal_images: Sequence) -> "PatchKNNDetector":
        self._validate()
        normal_images = image_list("normal_images", normal_images)
        if len(normal_images) == 0:
            raise ConfigError("fit() needs at least one normal image")
        images = [load_image(x) for x in normal_images]
        self.resizer_ = Resizer(self.resize, self.image_size).fit([im.shape[:2] for im in images])
        bank_images = [v for im in images for v in _augmented(im, self.augment)]
        feats = []
        for chunk in _chunks(bank_images, self.batch_size, self.progress, "memory bank"):
            feats.extend(self.embed(chunk))
        rows = [_flat(f) for f in feats]
        self.foreground_axis_ = _foreground_axis(feats) if self.foreground == "pca" else None
        if self.foreground_axis_ is not None:
            rows = [r[self._fg_mask(f)] for r, f in zip(rows, feats)]
        whole = CosineIndex(np.concatenate(rows), device=self.embedder_.model.device)
        size = max(round(self.coreset * len(whole)), MIN_CORESET_ROWS)
        if size < len(whole):
            keep = np.sort(greedy_coreset(whole.bank, size, progress=self.progress))
            self.index_ = CosineIndex(whole.bank[keep], device=whole.device, normalised=True)
        else:
            keep, self.index_ = np.arange(len(whole)), whole
        # Leave-one-out: each image against the coreset rows the other images gave it, which is what a
        # new normal image meets (the whole bank would score the shots closer than test normals).
        # Each image's rows (all its views) lie together in the bank, so its coreset rows do too.
        views = len(bank_images) // len(images)
        ends = np.cumsum([len(r) for r in rows])[views - 1 :: views]
        starts = np.concatenate([[0], ends[:-1]])
        self.normal_scores_ = [
            top_percent_mean(self._patch_map(feat, self._distance_to_others(feat, whole, keep, start, end)),
                             self.top_percent)
            for feat, start, end in tqdm(list(zip(feats[::views], starts, ends)), desc="leave-one-out", unit="img",
                                         disable=not self.progress or len(images) < 32, leave=False)
        ] if len(images) > 1 else []
        self._set_threshold()
        return self

    def _distance_to_others(self, feat: np.ndarray, whole: CosineIndex, keep: np.ndarray,
                            start: int, end: int) -> np.ndarray:
        first, stop = np.searchsorted(keep, [start, end])
        if first <= 0 and stop >= len(keep):  # every coreset row is this image's (near-duplicate shots)
            return whole.distance_outside(_flat(feat), start, end)
        return self.index_.distance_outside(_flat(feat), int(first), int(stop))

    def normal_scores(self) -> list[float]:
        self._check_fitted("index_", "normal_scores()")
        return list(self.normal_scores_)

    def _state(self) -> tuple[dict, dict[str, np.ndarray]]:
        self._check_fitted("index_", "save()")
        arrays = {"bank": self.index_.bank}
        if self.foreground_axis_ is not None:
            arrays["foreground_mean"], arrays["foreground_axis"] = self.foreground_axis_
        return {"resizer": persist.resizer_state(self.resizer_), "normal_scores": self.normal_scores_}, arrays

    def _restore(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.resizer_ = persist.restore_resizer(state["resizer"])
        self.index_ = CosineIndex(arrays["bank"], device=resolve_device(self.device), normalised=True)
        self.foreground_axis_ = ((arrays["foreground_mean"], arrays["foreground_axis"])
                                 if "foreground_axis" in arrays else None)
        self.normal_scores_ = list(state["normal_scores"])

    def _fg_mask(self, feat: np.ndarray) -> np.ndarray:
        mean, axis = self.foreground_axis_  # type: ignore[misc]
        return ((_flat(feat) - mean) @ axis) > 0

    def patch_distances(self, image: np.ndarray) -> np.ndarray:
        """(h, w) cosine distance of each patch to its nearest normal patch."""
        self._check_fitted("index_")
        feat = self.embed([image])[0]
        return self._patch_map(feat, self.index_.distance(_flat(feat)))

    def _patch_map(self, feat: np.ndarray, dist: np.ndarray) -> np.ndarray:
        if self.foreground_axis_ is not None:
            dist = np.where(self._fg_mask(feat), dist, 0.0)
        return dist.reshape(feat.shape[:2])

    def _predict_workers(self, n_images: int) -> int:
        # A GPU keeps one stream of work; on the CPU embedding and search are read-only, so thread-safe once
        # the backbone is loaded: here, not by two workers at once (it loads lazily after load_detector).
        if self.index_.device.type != "cpu":
            return 1
        self.embedder_.model  # noqa: B018 - the property loads the weights
        return parallel.workers_for(n_images)

    def _predict_image(self, image: np.ndarray, source: str) -> Prediction:
        dist = self.patch_distances(image)
        return Prediction(score=top_percent_mean(dist, self.top_percent),
                          anomaly_map=upsample_map(dist, image.shape[:2], self.sigma), source=source)


def top_percent_mean(values: np.ndarray, percent: float) -> float:
    flat = np.sort(values.ravel())[::-1]
    n = max(1, int(np.ceil(flat.size * percent / 100.0)))
    return float(flat[:n].mean())


def _flat(feat: np.ndarray) -> np.ndarray:
    return feat.reshape(-1, feat.shape[-1])


def _augmented(image: np.ndarray, augment: str) -> list[np.ndarray]:
    if augment == "none":
        return [image]
    views = [np.ascontiguousarray(np.rot90(image, k)) for k in range(4)]
    if augment == "rotate-flip":
        views += [np.ascontiguousarray(v[:, ::-1]) for v in views]
    return views


def _foreground_axis(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """First principal axis of the normal patches, signed so the image centre is foreground."""
    flat = np.concatenate([f.reshape(-1, f.shape[-1]) for f in feats])
    mean = flat.mean(0)
    _, _, vt = np.linalg.svd(flat[:: max(1, len(flat) // 20000)] - mean, full_matrices=False)
    axis = vt[0]
    centre = np.concatenate([_centre(f) for f in feats])
    if ((centre - mean) @ axis).mean() < 0:
        axis = -axis
    return mean, axis


def _centre(feat: np.ndarray) -> np.ndarray:
    h, w = feat.shape[:2]
    return feat[h // 4 : h - h // 4, w // 4 : w - w // 4].reshape(-1, feat.shape[-1])


def _chunks(items: list, size: int, progress: bool, desc: str):
    bar = tqdm(total=len(items), desc=desc, unit="img", disable=not progress or len(items) < 4)
    for start in range(0, len(items), size):
        yield items[start : start + size]
        bar.update(min(size, len(items) - start))
    bar.close()

