"""Offline segmenter: superpixels merged by colour and backbone features.

No downloaded weights: it runs on the offline default backbone
(EfficientNet-Lite0 from its pip package), loaded on first use. Steps:

1. SLIC superpixels: small regions that follow colour edges, so part
   boundaries are pixel-accurate even though backbone features are coarse.
2. Each superpixel is described by its mean CIELAB colour and its mean
   shallow backbone feature (strides 4 and 8: colour, texture and local
   shape, not ImageNet object semantics, which would merge a lime and an
   orange into "fruit").
3. Adjacent regions are merged bottom-up, closest mean descriptors first,
   until the closest touching pair differs by more than ``threshold``.
   Merging only neighbours keeps two identical parts apart, which is what
   lets the aligner match parts one to one.
4. Rims and slivers (shadows, anti-aliased edges) and tiny segments are
   folded into their most similar neighbour; segments touching two image
   edges are background, and so is any segment that looks like a background
   piece (a tray cut into compartments by walls).

Why these units: a colour difference is measured in CIELAB Delta-E (lightness
divided by ``lightness_factor``, CIE94's parametric factor k_L: 1 by default;
2, the textile value, keeps glossy and textured real parts whole, since
shading and highlights move lightness more than chroma, but did not raise
image AUROC on the real-photo development benchmark,
bench/results/compositional_real.md), divided by
``colour_unit`` (12: well above the just-noticeable ~2.3 and above lighting
and print variation inside one part, below the difference between two
different paints); a texture difference by the Euclidean distance of unit
feature vectors divided by ``feature_unit`` (0.6, i.e. cosine distance of
about 0.18). One unit on either axis is "clearly a different surface"; the
merge threshold of 1 stops at the first such boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from skimage.segmentation import slic

from ..backbones import DEFAULT_BACKBONE, Backbone
from ..backbones.embedder import PatchEmbedder, resize_to
from ..errors import ConfigError
from .base import Segmentation, Segmenter, adjacency, edges_touched, relabel, to_lab
from .registry import SEGMENTERS


@SEGMENTERS.register("feature-cluster")
@dataclass(repr=False, eq=False)  # the repr below names the backbone; eq=False: compared and hashed by identity, as before
class FeatureClusterSegmenter(Segmenter):
    """
    Parameters
    ----------
    backbone: registry name or instance; shallow layers of it describe texture.
    layers: backbone layers to use; ``None`` picks the two shallowest layers
        with stride >= 4 (EfficientNet-Lite0: stage2 and stage3).
    max_side: images are segmented at most this large (speed); the label map
        is returned at the input size.
    superpixel_size: mean SLIC superpixel side in pixels at the working size.
    threshold: merge distance in units described in the module docstring.
    colour_unit, feature_unit: what counts as one unit of colour (Delta-E) and
        of texture (unit-vector distance).
    lightness_factor: CIELAB lightness differences are divided by this
        (CIE94 k_L; 1 = plain Delta-E; see the module docstring).
    colour_weight: share of the colour axis in the squared distance (texture
        gets the rest). Colour leads because shallow features also fire on
        edges: with an equal share every part grows a rim segment of "edge"
        texture; texture still separates same-coloured surfaces.
    min_area: segments smaller than this fraction of the image are merged
        into their most similar neighbour.
    min_thickness: segments that mostly vanish under a morphological
        opening with a disc of this radius (pixels at the working size: about
        7 px wide) are rims or shadows and are merged the same way; 0 keeps
        them.
    background_like: segments that look like a background segment are
        background too.
    device: where the backbone runs.
    """

    backbone: str | Backbone = DEFAULT_BACKBONE
    layers: tuple[str, ...] | None = None
    max_side: int = 320
    superpixel_size: int = 8
    threshold: float = 1.0
    colour_unit: float = 12.0
    feature_unit: float = 0.6
    colour_weight: float = 0.8
    lightness_factor: float = 1.0
    min_area: float = 0.002
    min_thickness: int = 3
    background_like: bool = True
    device: str = "cpu"

    name = "feature-cluster"  # not annotated: the registry name, not a parameter

    def __post_init__(self):
        if not 0 <= self.colour_weight <= 1:
            raise ConfigError(f"colour_weight must be in [0, 1], got {self.colour_weight}")
        if self.threshold <= 0:
            raise ConfigError(f"threshold must be positive, got {self.threshold}")
        self.layers = tuple(self.layers) if self.layers else None

    def __repr__(self) -> str:
        name = self.backbone if isinstance(self.backbone, str) else self.backbone.name
        return f"FeatureClusterSegmenter(backbone={name!r}, threshold={self.threshold})"

    @cached_property
    def embedder(self) -> PatchEmbedder:
        """Raw maps of the texture layers (loading the backbone, on first use, decides the default ones)."""
        embedder = PatchEmbedder(self.backbone, self.layers, pool=1, device=self.device)
        embedder.layers = embedder.layers or _shallow_layers(embedder.model)
        return embedder

    # -- main ------------------------------------------------------------------
    def segment(self, image: np.ndarray) -> Segmentation:
        h0, w0 = image.shape[:2]
        small = _fit_side(image, self.max_side)
        h, w = small.shape[:2]
        n_sp = max(16, int(h * w / self.superpixel_size**2))
        sp = slic(small, n_segments=n_sp, compactness=10, start_label=0, enforce_connectivity=True)
        n = int(sp.max()) + 1
        desc = self._superpixel_descriptors(small, sp, n)
        counts = np.bincount(sp.ravel(), minlength=n).astype(np.float64)
        groups = _merge_adjacent(desc, counts, adjacency(sp), self.threshold)
        labels = groups[sp]
        labels = self._fold_thin(labels, desc, sp, counts)
        labels = self._fold_small(labels, desc, sp, counts, int(self.min_area * h * w))
        labels = self._drop_background(labels, desc, sp, counts)
        if (h, w) != (h0, w0):
            labels = _resize_labels(labels, (h0, w0))
        return Segmentation(relabel(labels), self.name, {"superpixels": n})

    # -- pieces ------------------------------------------------------------------
    def _superpixel_descriptors(self, image: np.ndarray, sp: np.ndarray, n: int) -> np.ndarray:
        """(n, 3 + D) rows: Lab / colour_unit, then unit feature / feature_unit, each axis weighted."""
        index = torch.from_numpy(sp.ravel().astype(np.int64))
        counts = torch.bincount(index, minlength=n).clamp_(min=1).double()[:, None]
        lab = torch.from_numpy(to_lab(image).reshape(-1, 3)).double()
        colour = torch.zeros(n, 3, dtype=torch.float64).index_add_(0, index, lab) / counts
        colour[:, 0] /= self.lightness_factor
        feats = self._pixel_features(image)  # (h*w, D)
        fmean = torch.zeros(n, feats.shape[1], dtype=torch.float64).index_add_(0, index, feats.double())
        fmean = fmean / fmean.norm(dim=1, keepdim=True).clamp_(min=1e-8)
        wc = np.sqrt(self.colour_weight)
        wf = np.sqrt(1 - self.colour_weight)
        return torch.cat([colour / self.colour_unit * wc, fmean / self.feature_unit * wf], 1).numpy()

    @torch.inference_mode()
    def _pixel_features(self, image: np.ndarray) -> torch.Tensor:
        h, w = image.shape[:2]
        multiple = self.embedder.model.size_multiple
        layers = self.embedder.feature_layers
        _, maps = self.embedder.embed([image], [(max(multiple, h), max(multiple, w))], extra_layers=layers)[0]
        parts = []
        for name in layers:
            fmap = resize_to(maps[name], (h, w))
            # each layer scaled on its own so neither dominates by magnitude
            fmap = fmap / (fmap.norm(dim=0).mean() + 1e-8)
            parts.append(fmap)
        return torch.cat(parts).permute(1, 2, 0).reshape(h * w, -1).cpu()

    def _fold_small(self, labels, desc, sp, counts, min_pixels) -> np.ndarray:
        """Merge segments under ``min_pixels`` into the most similar touching segment."""
        for _ in range(50):  # each pass folds every small segment once; a few passes settle
            sizes = np.bincount(labels.ravel())
            small = [i for i in np.flatnonzero(sizes) if sizes[i] < min_pixels]
            if not small:
                break
            means = _segment_means(labels, desc, sp, counts)
            pairs = adjacency(labels)
            changed = False
            for s in small:
                neighbours = [b if a == s else a for a, b in pairs if s in (a, b)]
                if not neighbours:
                    continue
                best = min(neighbours, key=lambda o: np.linalg.norm(means[s] - means[o]))
                labels = np.where(labels == s, best, labels)
                changed = True
            if not changed:
                break
        return labels

    def _drop_background(self, labels, desc, sp, counts) -> np.ndarray:
        ids = [int(i) for i in np.unique(labels)]
        background = [i for i in ids if edges_touched(labels == i) >= 2]
        if background and self.background_like:
            # walls or a part may cut the surface into pieces that do not all reach
            # two edges (a tray of compartments): pieces that look like a
            # background piece are background too
            means = _segment_means(labels, desc, sp, counts)
            background += [i for i in ids if i not in background
                           and min(np.linalg.norm(means[i] - means[b]) for b in background) < self.threshold]
        out = labels + 1  # 0 must stay free for background
        out[np.isin(labels, background)] = 0
        return out

    def _fold_thin(self, labels, desc, sp, counts) -> np.ndarray:
        """Fold rims and slivers (shadows, anti-aliased edges) into their most similar neighbour.

        A segment is thin when an opening with a disc of ``min_thickness``
        pixels removes most of it: parts have bodies, rims do not.
        """
        import cv2

        r = self.min_thickness
        if r <= 0:
            return labels
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        means = _segment_means(labels, desc, sp, counts)
        pairs = adjacency(labels)
        thin = []
        for i in np.unique(labels):
            m = (labels == i).astype(np.uint8)
            if cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel).sum() < 0.5 * m.sum():
                thin.append(int(i))
        mapping = {}
        for s in thin:
            neighbours = [b if a == s else a for a, b in pairs if s in (a, b) and (b if a == s else a) not in thin]
            if neighbours:
                mapping[s] = min(neighbours, key=lambda o: np.linalg.norm(means[s] - means[o]))
        if not mapping:
            return labels
        lut = np.arange(labels.max() + 1)
        for s, t in mapping.items():
            lut[s] = t
        return lut[labels]

# -- helpers -------------------------------------------------------------------
def _shallow_layers(backbone: Backbone) -> tuple[str, ...]:
    """Two shallowest layers with stride >= 4 (finer ones are mostly edges and noise)."""
    probe = backbone.extract([np.zeros((64, 64, 3), np.uint8)], (64, 64), backbone.layers)
    chosen = [name for name in backbone.layers if probe.strides[name] >= 4][:2]
    return tuple(chosen or backbone.default_layers)


def _fit_side(image: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(labels.astype(np.int32), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def _segment_means(labels, desc, sp, counts) -> dict[int, np.ndarray]:
    """Area-weighted mean descriptor of each segment (from its superpixels)."""
    # the label of a superpixel: its majority label (labels are unions of superpixels
    # until the final resize, so any pixel of it gives the same answer)
    sp_label = np.zeros(len(counts), np.int64)
    sp_label[sp.ravel()] = labels.ravel()
    out = {}
    for i in np.unique(labels):
        members = sp_label == i
        wts = counts[members][:, None]
        out[int(i)] = (desc[members] * wts).sum(0) / max(wts.sum(), 1)
    return out


def _merge_adjacent(desc: np.ndarray, counts: np.ndarray, pairs: set[tuple[int, int]], threshold: float) -> np.ndarray:
    """Greedy region-adjacency-graph merging on region means; a group id per superpixel.

    The closest pair of touching regions (distance between their pixel-weighted
    mean descriptors) is merged first, until no touching pair is closer than
    ``threshold``. Means, not mean pairwise distances (average linkage), are
    compared because a textured surface's mean settles as its region grows,
    while its pairwise spread does not.
    """
    import heapq

    n = len(desc)
    total = desc * counts[:, None]
    weight = counts.astype(np.float64).copy()
    mean = desc.astype(np.float64).copy()
    parent = np.arange(n)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    version = np.zeros(n, np.int64)
    if pairs:
        pa, pb = np.array(sorted(pairs)).T
        d0 = np.linalg.norm(mean[pa] - mean[pb], axis=1)
        heap = [(float(d), int(a), int(b), 0, 0) for d, a, b in zip(d0, pa, pb)]
    else:
        heap = []
    heapq.heapify(heap)
    while heap:
        d, a, b, va, vb = heapq.heappop(heap)
        if d > threshold:
            break
        if parent[a] != a or parent[b] != b or version[a] != va or version[b] != vb:
            continue  # stale entry: one side has merged since
        parent[b] = a  # merge b into a
        total[a] += total[b]
        weight[a] += weight[b]
        mean[a] = total[a] / weight[a]
        version[a] += 1
        for c in neighbours[b]:
            neighbours[c].discard(b)
            if c != a:
                neighbours[c].add(a)
        neighbours[a] |= neighbours[b]
        neighbours[a] -= {a, b}
        neighbours[b] = set()
        if neighbours[a]:
            others = np.fromiter(neighbours[a], np.int64)
            dists = np.linalg.norm(mean[others] - mean[a], axis=1)
            for c, dc in zip(others.tolist(), dists.tolist()):
                heapq.heappush(heap, (dc, a, c, int(version[a]), int(version[c])))
    roots = np.array([_find(parent, i) for i in range(n)])
    _, groups = np.unique(roots, return_inverse=True)
    return groups


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i
