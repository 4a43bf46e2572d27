"""Click-segmentation baselines, run under exactly ADClick's evaluation protocol.

Every method implements the same two calls: ``start(context)`` once per image
and ``predict(clicks)`` after every click (all clicks so far, in image
pixels), returning (bool mask, float32 soft mask) at the image's size. The
soft mask is what pixel AP ranks; methods without a natural probability say
below how they rank pixels.

- GrabCut (OpenCV), seeded from the clicks and the previous mask;
- random walker (scikit-image), seeded from the clicks;
- residual map: threshold the anomaly map, keep the components the positive
  clicks touch, drop those the negative clicks touch;
- SAM through transformers, when its weights are present locally.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from ..click.clicks import Click, border_background
from ..errors import ConfigError


@dataclass
class ImageContext:
    """One test image and what methods may use about it (nothing from its ground truth)."""

    image: np.ndarray  # RGB uint8
    prompt: str | None = None
    features: object = None  # ImageFeatures, shared by ADClick and the residual baseline
    _anomaly_map: np.ndarray | None = field(default=None, repr=False)

    @property
    def anomaly_map(self) -> np.ndarray:
        if self._anomaly_map is None:
            if self.features is None:
                raise ConfigError("this method needs the image's residual features (a NormalReference)")
            self._anomaly_map = self.features.anomaly_map()
        return self._anomaly_map


class Method(Protocol):
    name: str

    def start(self, context: ImageContext) -> None: ...

    def predict(self, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]: ...


def disks(clicks: list[Click], shape: tuple[int, int], radius: int, positive: bool) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    for c in clicks:
        if c.positive == positive:
            cv2.circle(out, (int(c.x), int(c.y)), radius, 1, thickness=-1)
    return out.astype(bool)


# Dataclasses: the parameters are the fields, shown in the repr; eq=False because
# a method holds per-image state after start(), so identity is what tells two apart.
@dataclass(eq=False)
class GrabCut:
    """OpenCV GrabCut with a mask initialisation from the clicks.

    Seeds: positive click disks are sure foreground, negative ones sure
    background, the previous mask probable foreground, everything else
    probable background. Soft mask: sure fg 1, probable fg 0.75, probable bg
    0.25, sure bg 0 (GrabCut exposes labels, not probabilities). Like the
    random walker it runs at a longer side of at most ``max_side`` px
    (upsampled after): at full size it took over a second per click on a
    shared 2-core CPU, i.e. an hour for the held-out set alone.
    """

    radius: int = 5
    iterations: int = 3
    max_side: int = 256

    name = "GrabCut"  # not annotated: the name results are reported under, not a parameter

    def start(self, context: ImageContext) -> None:
        self.shape = context.image.shape[:2]
        self.scale = min(1.0, self.max_side / max(self.shape))
        image = context.image[:, :, ::-1]  # OpenCV wants BGR
        if self.scale < 1.0:
            image = cv2.resize(image, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        self.image = np.ascontiguousarray(image)
        self.prev = np.zeros(self.image.shape[:2], bool)

    def predict(self, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
        shape = self.image.shape[:2]
        small = [Click(c.x * self.scale, c.y * self.scale, c.positive) for c in clicks]
        r = max(1, int(round(self.radius * self.scale)))
        seeds = np.full(shape, cv2.GC_PR_BGD, np.uint8)
        seeds[self.prev] = cv2.GC_PR_FGD
        seeds[disks(small, shape, r, False)] = cv2.GC_BGD
        seeds[disks(small, shape, r, True)] = cv2.GC_FGD
        if not (seeds == cv2.GC_FGD).any() and not (seeds == cv2.GC_PR_FGD).any():
            self.prev = np.zeros(shape, bool)  # only negative clicks so far: nothing to segment
            return np.zeros(self.shape, bool), np.zeros(self.shape, np.float32)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(self.image, seeds, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            # GrabCut refuses when one side has too few samples for its GMM; keep the seeds.
            pass
        soft = np.choose(seeds, [0.0, 1.0, 0.25, 0.75]).astype(np.float32)  # BGD, FGD, PR_BGD, PR_FGD
        self.prev = soft > 0.5
        if soft.shape != self.shape:
            soft = cv2.resize(soft, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_LINEAR)
        return soft > 0.5, soft


@dataclass(eq=False)
class RandomWalker:
    """scikit-image's random walker on the image, seeded from the clicks.

    Colour images are walked in colour (``channel_axis``), so a boundary
    between two colours of equal brightness counts; grey photos (three equal
    channels) as one grey channel, exactly as before colour was supported.

    Background seeds: negative click disks plus the image border away from
    positive clicks (with only the clicked seeds, a random walker splits the
    image in halves between one positive and one negative click). Soft
    mask: the foreground probability. Solved directly (``mode="bf"``; the
    iterative solver sometimes took minutes to converge) at a longer side of
    at most ``max_side`` px, upsampled after.
    """

    radius: int = 5
    beta: float = 130.0
    max_side: int = 256

    name = "RandomWalker"

    def start(self, context: ImageContext) -> None:
        image = context.image
        self.colour = image.ndim == 3 and not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))
        data = image if self.colour else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        self.shape = data.shape[:2]
        self.scale = min(1.0, self.max_side / max(self.shape))
        if self.scale < 1.0:
            data = cv2.resize(data, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        self.data = data.astype(np.float64) / 255.0

    def predict(self, clicks: list[Click], extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``extra``: an image-size map in [0, 1] walked as one more channel beside the image's (a model's probability)."""
        from skimage.segmentation import random_walker

        small = [Click(c.x * self.scale, c.y * self.scale, c.positive) for c in clicks]
        shape = self.data.shape[:2]
        data, colour = self.data, self.colour
        if extra is not None:
            channel = cv2.resize(extra.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
            data, colour = np.dstack([data if colour else data[..., None], channel.astype(np.float64)]), True
        r = max(1, int(round(self.radius * self.scale)))
        labels = np.zeros(shape, np.int32)
        pos = disks(small, shape, r, True)
        neg = disks(small, shape, r, False)
        if not pos.any():
            return np.zeros(self.shape, bool), np.zeros(self.shape, np.float32)
        labels[neg | border_background(pos)] = 2
        labels[pos] = 1
        if not (labels == 2).any():
            return np.ones(self.shape, bool), np.ones(self.shape, np.float32)
        with warnings.catch_warnings():
            # It warns when its solver's tolerance lets probabilities stray a
            # hair outside [0, 1]; they are clipped below.
            warnings.simplefilter("ignore", UserWarning)
            prob = random_walker(
                data, labels, beta=self.beta, mode="bf", return_full_prob=True, channel_axis=-1 if colour else None
            )[0]
        prob = np.clip(prob, 0, 1).astype(np.float32)
        if prob.shape != self.shape:
            prob = cv2.resize(prob, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_LINEAR)
        return prob > 0.5, prob


@dataclass(eq=False)
class ResidualMap:
    """Anomaly-map components selected by clicks (no learning).

    Each positive click selects the connected region around it where the
    anomaly map is at least ``t = max(threshold, 0.5 * value under the
    click)``: half the local maximum (the usual half-maximum extent of a
    peak), but never below ``threshold`` (1.0 = the 99th percentile of
    leave-one-out normal patch distances, so no per-dataset tuning). A click
    on a value below ``threshold`` grows its region at ``grow`` times that
    value instead. A negative click inside a selected region first raises
    that region's level just above the value under it; when that would drop
    the positive click too, the region is split instead, keeping the pixels
    nearer to a positive than to a negative click. Soft mask: selected pixels
    rank above all others, and by anomaly value within each group.
    """

    threshold: float = 1.0
    grow: float = 0.8

    name = "ResidualMap"

    def start(self, context: ImageContext) -> None:
        self.amap = context.anomaly_map.astype(np.float32)
        self.norm = self.amap / max(float(self.amap.max()), 1e-6)

    def predict(self, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
        mask = np.zeros(self.amap.shape, bool)
        negatives = [(int(c.y), int(c.x)) for c in clicks if not c.positive]
        positives = [(int(c.y), int(c.x)) for c in clicks if c.positive]
        for y, x in positives:
            value = float(self.amap[y, x])
            t = max(self.threshold, 0.5 * value) if value >= self.threshold else self.grow * value
            region = self._component(t, y, x)
            for _ in range(4):
                inside = [self.amap[p] for p in negatives if region[p]]
                if not inside:
                    break
                t_new = max(inside) * 1.05
                if t_new >= value:  # not separable by level: split by nearest click
                    region &= self._nearer_to_positive(positives, negatives)
                    break
                t = t_new
                region = self._component(t, y, x)
            mask |= region
        soft = (0.5 * mask + 0.5 * self.norm).astype(np.float32)
        return mask, soft

    def _component(self, t: float, y: int, x: int) -> np.ndarray:
        above = (self.amap >= t).astype(np.uint8)
        if not above[y, x]:
            return np.zeros(above.shape, bool)
        _, labels = cv2.connectedComponents(above, connectivity=8)
        return labels == labels[y, x]

    def _nearer_to_positive(self, positives, negatives) -> np.ndarray:
        def distance_to(points):
            seeds = np.ones(self.amap.shape, np.uint8)
            for p in points:
                seeds[p] = 0
            return cv2.distanceTransform(seeds, cv2.DIST_L2, 3)

        return distance_to(positives) < distance_to(negatives)


class SAM:
    """Segment Anything through transformers (``SamModel`` + ``SamProcessor``).

    ``model_id`` is a local directory or a hub id found in the local cache
    (nothing is downloaded). The image embedding is computed once per image;
    every click re-runs the prompt encoder and mask decoder with all clicks
    and the previous low-resolution mask logits, the usual SAM interactive
    protocol; the first click uses the multimask output with the best
    predicted IoU, as SAM's authors do for ambiguous single points.
    """

    name = "SAM"

    def __init__(self, model_id: str | os.PathLike):
        from ..segment.sam import SamPredictor

        # Loaded now: build_methods skips SAM on the OSError a missing checkpoint raises.
        self.predictor = SamPredictor(model_id).load()

    def start(self, context: ImageContext) -> None:
        self.predictor.set_image(context.image)
        self.prev_low = None

    def predict(self, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
        multimask = len(clicks) == 1
        logits, scores, low = self.predictor.predict(
            [[c.x, c.y] for c in clicks], [int(c.positive) for c in clicks],
            mask_input=self.prev_low, multimask=multimask, return_logits=True,
        )
        best = int(scores.argmax()) if multimask else 0
        self.prev_low, full = low[best], logits[best]
        return full > 0, (1.0 / (1.0 + np.exp(-full))).astype(np.float32)
