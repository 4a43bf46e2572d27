"""Codebook classes: part kinds learnt from every normal shot, shared across images without matching.

On real photos the matchers' weak point is the matching itself: a surface
that breaks into two to four fragments in one image and into one or three in
the next has no consistent one-to-one counterpart in the reference, so the
logical descriptors measure fragmentation noise (see
``bench/results/compositional_real.md``). This aligner does not match. As in
ComAD (Liu et al. 2023), the foreground patch features of all normal shots are
clustered by spherical k-means; the ``n_kinds`` centres are the classes, and
every pixel of any image takes the class of the centre its feature is most
like. Ids mean the same in every image by construction; a kind is a kind of
surface (all the screws, the tiles), not one instance, so a missing, extra
or moved instance shows as a change of its kind's area or mean position.

The segmenter still decides what is foreground (background stays class 0,
so a tray's texture takes no class); when it finds no foreground in the
shots (a texture filling the frame) every pixel is foreground.

A foreground pixel less like every centre than 99 % of the normal shots' own
foreground cells are like theirs is ``unknown``: something no shot showed.

``n_kinds`` = 5 (the ComAD baseline's k, and about the number of part kinds in
a MVTec LOCO category): too few merges two kinds, and then a swap of the two
is invisible; too many splits one, which the per-class normal units of the
logical descriptors absorb (3 / 5 / 8 kinds on the development benchmark: logical
AUROC 85-89 / 86-93 / 90-93, ``bench/results/compositional_real.md``), so when
unsure, err towards more.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ...backbones.knn import kmeans, normalise
from ...data.checks import positive_int
from ...errors import ConfigError, NotFittedError
from ..base import coverage
from ..registry import ALIGNERS
from .base import Aligner, ClassMap, View

MAX_ROWS = 20000  # k-means sample: the normal shots' cells, beyond which more rows change nothing
UNKNOWN_QUANTILE = 1.0  # in %: a cell less like its kind than this share of the normal cells is unknown


@ALIGNERS.register("codebook")
class CodebookAligner(Aligner):
    """
    Parameters
    ----------
    n_kinds: number of classes (k-means centres).
    seed: k-means seed.

    Fitted attributes: ``centres_`` (n_kinds, D) unit vectors, ``floor_``
    (the similarity below which a pixel is unknown), ``whole_image_``
    (True when the shots had no foreground and every pixel counts).
    """

    name = "codebook"

    def __init__(self, n_kinds: int = 5, seed: int = 0):
        self.n_kinds = positive_int("n_kinds", n_kinds)
        self.seed = seed
        self.centres_: np.ndarray | None = None

    def fit(self, reference: View, normals: Sequence[View] = ()) -> "CodebookAligner":
        views = [reference] + [v for v in normals if v is not reference]
        if any(v.features is None for v in views):
            raise ConfigError("the codebook aligner needs backbone features in every View")
        cells = [_cell_foreground(v) for v in views]
        self.whole_image_ = not any(c.any() for c in cells)
        rows = np.concatenate([_unit_cells(v)[c | self.whole_image_] for v, c in zip(views, cells)])
        rng = np.random.default_rng(self.seed)
        sample = rows[rng.permutation(len(rows))[:MAX_ROWS]]
        self.centres_ = kmeans(sample, self.n_kinds, self.seed)
        # the tolerance keeps cells that equal a centre up to rounding (flat drawn parts) known
        self.floor_ = float(np.percentile((rows @ self.centres_.T).max(1), UNKNOWN_QUANTILE)) - 1e-4
        return self

    def align(self, view: View) -> ClassMap:
        if self.centres_ is None:
            raise NotFittedError("call fit(reference) before align()")
        if view.features is None:
            raise ConfigError("the codebook aligner needs backbone features in the View")
        gh, gw = view.features.shape[:2]
        h, w = view.segmentation.shape
        similarity = (_unit_cells(view) @ self.centres_.T).reshape(gh, gw, -1)
        # similarities, not labels, are upsampled, so class borders fall where the evidence turns;
        # unknown is decided per cell (what the features measured): an interpolated similarity
        # between two kinds is low without anything being new
        up = cv2.resize(similarity, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
        n = len(self.centres_)
        labels = (up.argmax(-1) + 1).astype(np.int32)
        novel = (similarity.max(-1) < self.floor_).astype(np.uint8)
        labels[cv2.resize(novel, (w, h), interpolation=cv2.INTER_NEAREST) > 0] = n + 1
        if not self.whole_image_:
            labels[view.segmentation.labels == 0] = 0
        return ClassMap(labels, n, _majority(view.segmentation.labels, labels), noun="part kind")


def _unit_cells(view: View) -> np.ndarray:
    f = view.features
    return normalise(f.reshape(-1, f.shape[-1]))


def _cell_foreground(view: View) -> np.ndarray:
    """(gh * gw,) bool: cells mostly covered by parts, not background."""
    labels = view.segmentation.labels
    return coverage((labels > 0).astype(np.int32), 1, view.features.shape[:2])[1] > 0.5


def _majority(segments: np.ndarray, classes: np.ndarray) -> dict[int, int]:
    """segment id -> the class most of its pixels took (what explanations and saved models record)."""
    n_seg, width = int(segments.max(initial=0)), int(classes.max(initial=0)) + 1
    # one pass over the pixels: counts[segment, class]
    pairs = segments.ravel().astype(np.int64) * width + classes.ravel()
    counts = np.bincount(pairs, minlength=(n_seg + 1) * width).reshape(n_seg + 1, width)
    return {seg: int(counts[seg].argmax()) for seg in range(1, n_seg + 1) if counts[seg].any()}
