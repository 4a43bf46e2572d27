"""The aligner interface: consistent class ids for parts across images.

A segmenter's ids mean nothing outside their image. An aligner is fitted on a
reference image (by default the first of the k shots) whose parts define the
classes 1..n, and maps every other image onto them, giving a
:class:`ClassMap`: 0 background, 1..n the reference's parts, n + 1 "unknown"
(a part that looks like nothing in the reference).

Two families plug in here:

- matchers (:mod:`.hungarian`, :mod:`.nearest`) compare the segments of the
  new image with the reference's segments by a few per-segment numbers
  (:class:`SegmentStats`);
- codebook (:mod:`.codebook`) needs no matching: its classes are part kinds
  learnt by k-means on every normal shot's features, so ids are shared across
  images by construction (as in ComAD);
- propagators (:mod:`.propagator`) carry the reference's masks into the new
  image with a video-object-segmentation model, as the reference method did
  with DeAOT; they need no segmentation of the new image, but use it when
  given to mark parts they did not reach as unknown.

Subclass :class:`Aligner` (``fit`` + ``align``) and register the class with
``@ALIGNERS.register(name)`` (:mod:`defectlab.segment.registry`) to add one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..base import Segmentation, coverage


@dataclass
class View:
    """What an aligner may look at: the image, its parts, and backbone patch features."""

    image: np.ndarray  # (H, W, 3) uint8, at the working size
    segmentation: Segmentation  # (H, W) labels
    features: np.ndarray | None = None  # (h, w, D) patch features, or None


@dataclass
class ClassMap:
    """Class ids per pixel: 0 background, 1..n_classes reference parts, n_classes + 1 unknown."""

    labels: np.ndarray  # (H, W) int32
    n_classes: int
    assignment: dict[int, int] = field(default_factory=dict)  # segment id -> class id
    noun: str = "class"  # what explanations call one: "class", or "part kind" for the codebook's kinds

    @property
    def unknown(self) -> int:
        return self.n_classes + 1


@dataclass
class SegmentStats:
    """Per-segment numbers a matcher compares (row i = segment i + 1)."""

    feature: np.ndarray  # (n, D) unit mean backbone feature (zeros when no features)
    colour: np.ndarray  # (n, 3) mean CIELAB
    area: np.ndarray  # (n,) fraction of the image
    centroid: np.ndarray  # (n, 2) (x, y) in [0, 1]
    background: np.ndarray | None = None  # (D,) unit mean feature of the background, if any
    elongation: np.ndarray | None = None  # (n,) sqrt of the ratio of the principal second moments, >= 1

    def __len__(self) -> int:
        return len(self.area)


def segment_stats(view: View) -> SegmentStats:
    from ..base import to_lab

    labels = view.segmentation.labels
    n = view.segmentation.n_segments
    h, w = labels.shape
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1).astype(np.float64)[1:]
    safe = np.maximum(counts, 1)
    lab = to_lab(view.image).reshape(-1, 3).astype(np.float64)
    colour = np.stack([np.bincount(flat, lab[:, c], minlength=n + 1)[1:] for c in range(3)], 1) / safe[:, None]
    yy, xx = np.mgrid[0:h, 0:w]
    x, y = (xx.ravel() + 0.5) / w, (yy.ravel() + 0.5) / h
    cx = np.bincount(flat, x, minlength=n + 1)[1:] / safe
    cy = np.bincount(flat, y, minlength=n + 1)[1:] / safe
    # shape: elongation from the second moments (in pixels, so aspect is kept)
    xp, yp = xx.ravel().astype(np.float64), yy.ravel().astype(np.float64)
    mx, my = cx * w - 0.5, cy * h - 0.5
    sxx = np.bincount(flat, xp * xp, minlength=n + 1)[1:] / safe - mx**2
    syy = np.bincount(flat, yp * yp, minlength=n + 1)[1:] / safe - my**2
    sxy = np.bincount(flat, xp * yp, minlength=n + 1)[1:] / safe - mx * my
    half_trace, det = (sxx + syy) / 2, sxx * syy - sxy**2
    root = np.sqrt(np.maximum(half_trace**2 - det, 0))
    lam1, lam2 = half_trace + root, np.maximum(half_trace - root, 1e-6)
    elongation = np.sqrt(np.maximum(lam1, 1e-6) / lam2)
    if view.features is not None and n:
        gh, gw, d = view.features.shape
        cov = coverage(labels, n, (gh, gw))  # (n + 1, gh*gw), row 0 background
        feat = cov @ view.features.reshape(-1, d).astype(np.float64)
        feat /= np.maximum(np.linalg.norm(feat, axis=1, keepdims=True), 1e-8)
        background = feat[0] if cov[0].sum() > 0 else None
        feat = feat[1:]
    else:
        feat, background = np.zeros((n, 1)), None
    return SegmentStats(feat, colour, counts / (h * w), np.stack([cx, cy], 1), background, elongation)


class Aligner(ABC):
    """Maps the parts of any image onto the classes of a reference image."""

    name: str = "aligner"

    @abstractmethod
    def fit(self, reference: View, normals: Sequence[View] = ()) -> "Aligner":
        """Take the reference's parts as the classes 1..n.

        ``normals``: all the normal shots (the reference among them), for
        aligners that learn their classes from every shot (:mod:`.codebook`);
        the matchers and propagators look at the reference only.
        """

    @abstractmethod
    def align(self, view: View) -> ClassMap:
        """Class map of an image (the reference itself maps onto itself)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def absorb_fragments(view: View, stats: SegmentStats, reference: SegmentStats, assignment: dict[int, int],
                     appearance: np.ndarray, limit: float = np.inf, max_share: float = 0.5) -> dict[int, int]:
    """Unassigned small segments that touch an assigned one join its class.

    An over-segmented part leaves fragments (a highlight, a shadow, a split
    label) that look like nothing on their own; counting them as unknown parts
    would raise the histogram of every normal image. A fragment is smaller
    than ``max_share`` of the smallest reference part and touches an assigned
    segment; it joins the touching class it looks most like (within ``limit``,
    by default any: fragments are, by construction, unlike whole parts). A
    stain on a part is absorbed too; the patch descriptors are what see it.
    """
    from ..base import adjacency

    if not len(reference):
        return assignment
    small = max_share * float(reference.area.min())
    pairs = adjacency(view.segmentation.labels)
    out = dict(assignment)
    for seg in range(1, len(stats) + 1):
        if seg in out or stats.area[seg - 1] >= small:
            continue
        touching = {b if a == seg else a for a, b in pairs if seg in (a, b)} - {0}
        options = [(appearance[seg - 1, out[t] - 1], out[t]) for t in touching if t in assignment]
        if options:
            cost, cls = min(options)
            if cost <= limit:
                out[seg] = cls
    return out


def split_merged(view: View, stats: SegmentStats, reference: SegmentStats, assignment: dict[int, int],
                 gate: float, cost) -> tuple[View, dict[int, int]]:
    """Split a segment that swallowed two touching look-alike parts.

    Region merging cannot tell two touching oranges apart: one segment, one
    class matched, the other class "missing". When a reference class is left
    empty, and a segment matched to a look-alike class (appearance within
    ``gate``) is at least 1.5 times that class's area, the segment is cut in
    two by 2-means on pixel position and the piece nearer the empty class's
    reference position takes that class. Returns the (possibly re-labelled)
    view and the assignment.
    """
    n_ref = len(reference)
    if n_ref < 2 or not assignment:
        return view, assignment
    empty = [c for c in range(1, n_ref + 1) if c not in assignment.values()]
    if not empty:
        return view, assignment
    ref_app = cost.appearance(reference, reference)
    labels = view.segmentation.labels.copy()
    out = dict(assignment)
    changed = False
    split: set[int] = set()
    for missing in empty:
        candidates = [
            seg for seg, cls in assignment.items()
            if seg not in split and cls != missing and ref_app[cls - 1, missing - 1] <= gate
            and stats.area[seg - 1] >= 1.5 * reference.area[cls - 1]
        ]
        if not candidates:
            continue
        target = reference.centroid[missing - 1]
        seg = min(candidates, key=lambda s_: float(np.linalg.norm(stats.centroid[s_ - 1] - target)))
        ys, xs = np.nonzero(labels == seg)
        h, w = labels.shape
        pts = np.stack([(xs + 0.5) / w, (ys + 0.5) / h], 1)
        halves = _two_means(pts)
        centres = np.array([pts[halves == i].mean(0) for i in (0, 1)])
        near = int(np.argmin(np.linalg.norm(centres - target, axis=1)))
        new_id = int(labels.max()) + 1
        labels[ys[halves == near], xs[halves == near]] = new_id
        out[new_id] = missing
        split.add(seg)
        changed = True
    if not changed:
        return view, assignment
    from ..base import Segmentation

    seg = Segmentation(labels, view.segmentation.source, dict(view.segmentation.info))
    return View(view.image, seg, view.features), out


def _two_means(points: np.ndarray, iterations: int = 10) -> np.ndarray:
    """2-means on 2-D points, started from the two ends of the principal axis."""
    centre = points.mean(0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    proj = (points - centre) @ vt[0]
    centres = np.stack([points[proj.argmin()], points[proj.argmax()]])
    for _ in range(iterations):
        which = np.linalg.norm(points[:, None] - centres[None], axis=-1).argmin(1)
        for i in (0, 1):
            if (which == i).any():
                centres[i] = points[which == i].mean(0)
    return which


def paint(segmentation: Segmentation, assignment: dict[int, int], n_classes: int) -> ClassMap:
    """Class map from a segment -> class assignment (unassigned segments are unknown)."""
    lut = np.full(segmentation.n_segments + 1, n_classes + 1, np.int32)
    lut[0] = 0
    for seg, cls in assignment.items():
        lut[seg] = cls
    return ClassMap(lut[segmentation.labels], n_classes, dict(assignment))
