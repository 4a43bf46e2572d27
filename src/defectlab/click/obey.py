"""Clicks are obeyed: what every click guarantees about the mask, whatever the head predicts.

The head reads clicks as hints. A labeller reads them as orders, and issue
#14's trial on an unseen product showed what happens otherwise: negative
click after negative click left the mask unchanged, even at the clicked
pixel. Three rules, applied in this order after the head (and after
:func:`~defectlab.click.session.drop_rejected_regions` and fill):

1. **Split a region between its clicks** (:func:`split_between_clicks`). A
   negative click inside a predicted region that a positive click also
   touches says "the defect ends before here". A hole around the click is
   the wrong answer: the part of the region that looks like the negative
   click should go. A random walker (Grady, PAMI 2006) restricted to the
   region, seeded with the positive click disks (1) and the negative ones
   (0), on a grid of a quarter of the model resolution, with edge weights
   from the head's per-image "click similarity" keys (the features its
   decoder compares clicked patches with) and the colour: each pixel of
   the region goes to the click set it is best connected to through
   similar-looking pixels. What goes to the negative set is switched off.
2. **Click disks carry their label** (:func:`force_click_disks`): after a
   positive click its disk is foreground, after a negative click
   background, in the mask and in the probability; a later click's disk
   wins where two overlap.
3. **Edits are constraints** (``ClickSession.set_mask``): pixels the user
   painted or erased keep that value under later clicks, unless a click
   falls on the edited stroke (its connected component), which releases it.

No parameter here was tuned on any benchmark: ``BETA`` is
scikit-image's random-walker default, the grid is the coarsest at which a
disk of the default click radius (5 px) still covers a cell, and the
margin ``FORCE`` (logit 8, p = 0.9997) only has to be far from the 0.5
threshold.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

from .clicks import Click, click_maps, map_pixel
from .fill import graph_laplacian

BETA = 130.0  # scikit-image random_walker's default edge sharpness
GRID = 4  # the walk's cell: GRID x GRID model pixels
FORCE = 8.0  # logit margin a click disk is set to, beyond the threshold
OFF = 6.0  # logit margin below the threshold for switched-off pixels (as drop_rejected_regions)


def force_click_disks(logits: np.ndarray, clicks: Sequence[Click], scale, radius: float, level: float) -> np.ndarray:
    """Logits with each click's disk beyond ``level`` on its side, in click order (the last click wins)."""
    if not clicks:
        return logits
    out = logits.copy()
    r = max(1, int(round(radius)))
    for c in clicks:
        disk = np.zeros(out.shape, np.uint8)
        cv2.circle(disk, map_pixel(c, scale, out.shape), r, 1, thickness=-1)
        on = disk > 0
        out[on] = np.maximum(out[on], level + FORCE) if c.positive else np.minimum(out[on], level - FORCE)
    return out


def split_between_clicks(
    logits: np.ndarray,
    clicks: Sequence[Click],
    scale,
    radius: float,
    level: float,
    key: np.ndarray,
    rgb: np.ndarray,
    beta: float = BETA,
) -> np.ndarray:
    """Switch off the part of each region touched by both click kinds that the walk gives the negative clicks.

    ``logits`` (H, W) at model resolution; ``key`` (C, H/8, W/8) the head's
    unit click-similarity features; ``rgb`` (H, W, 3) in [0, 1].
    """
    if not any(c.positive for c in clicks) or not any(not c.positive for c in clicks):
        return logits
    H, W = logits.shape
    n, labels = cv2.connectedComponents((logits > level).view(np.uint8), connectivity=8)
    if n <= 1:
        return logits
    r = int(round(radius)) + 1
    touched: dict[bool, set[int]] = {True: set(), False: set()}
    for c in clicks:
        cx, cy = map_pixel(c, scale, logits.shape)
        window = labels[max(0, cy - r) : cy + r + 1, max(0, cx - r) : cx + r + 1]
        touched[c.positive].update(int(v) for v in np.unique(window) if v)
    shared = sorted(touched[True] & touched[False])
    if not shared:
        return logits
    h, w = max(2, H // GRID), max(2, W // GRID)
    feats = _grid_features(key, rgb, (h, w))
    gscale = (scale[0] * h / H, scale[1] * w / W)
    out = logits.copy()
    for comp in shared:
        region_full = labels == comp
        region = cv2.resize(region_full.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
        seeds = np.full((h, w), -1, np.int8)  # -1 free, 0 negative, 1 positive
        for c in clicks:  # later clicks overwrite earlier ones, as on the mask
            disk = click_maps([c], (h, w), max(1.0, radius * h / H), gscale)[0 if c.positive else 1] > 0
            seeds[disk & region] = 1 if c.positive else 0
        if not (seeds == 1).any() or not (seeds == 0).any():
            continue
        prob = _walk(feats, region, seeds, beta)
        negative = cv2.resize(prob, (W, H), interpolation=cv2.INTER_LINEAR) < 0.5
        off = region_full & negative
        out[off] = np.minimum(out[off], level - OFF)
    return out


def _grid_features(key: np.ndarray, rgb: np.ndarray, shape) -> np.ndarray:
    """(h, w, C+3): the head's unit keys (squared distances in [0, 4]) and colour, equally weighted."""
    h, w = shape
    k = cv2.resize(np.ascontiguousarray(key.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR)
    k = k.reshape(h, w, -1)
    k = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), 1e-6)
    c = cv2.resize(rgb.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA).reshape(h, w, -1)
    # mean over channels below: give the C key channels and the 3 colour channels the same total weight
    ck = k.shape[-1]
    return np.concatenate([k, c * np.sqrt(ck / c.shape[-1])], axis=-1).astype(np.float64)


def _walk(feats: np.ndarray, region: np.ndarray, seeds: np.ndarray, beta: float) -> np.ndarray:
    """Probability of reaching a positive seed first, on the 4-connected graph of ``region``'s cells (0 outside)."""
    h, w, _ = feats.shape
    idx = np.full((h, w), -1, np.int64)
    cells = np.flatnonzero(region.ravel())
    idx.ravel()[cells] = np.arange(len(cells))
    flat = feats.reshape(h * w, -1)
    grid = np.arange(h * w).reshape(h, w)
    pairs = []
    for dy, dx in ((0, 1), (1, 0)):
        src, dst = grid[: h - dy, : w - dx].ravel(), grid[dy:, dx:].ravel()
        keep = (idx.ravel()[src] >= 0) & (idx.ravel()[dst] >= 0)
        src, dst = src[keep], dst[keep]
        pairs.append((idx.ravel()[src], idx.ravel()[dst], ((flat[src] - flat[dst]) ** 2).mean(axis=1)))
    i = np.concatenate([p[0] for p in pairs])
    j = np.concatenate([p[1] for p in pairs])
    d2 = np.concatenate([p[2] for p in pairs])
    m = len(cells)
    x = np.zeros(m)
    s = seeds.ravel()[cells]
    fixed = s >= 0
    x[fixed] = s[fixed]
    if len(i) and (~fixed).any():
        wgt = np.exp(-beta * d2 / (10 * (feats[region].std() + 1e-6))) + 1e-6
        lap = graph_laplacian(i, j, wgt, m)
        free = ~fixed
        a = lap[free][:, free] + 1e-8 * sp.identity(int(free.sum()), format="csr")
        b = -lap[free][:, fixed] @ x[fixed]
        x[free] = spsolve(a.tocsc(), b)
    # a free cell cut off from every seed (its own island in the region) keeps the region's label
    out = np.ones(h * w)
    out[cells] = np.clip(x, 0.0, 1.0)
    if len(i):
        n_comp, comp = connected_components(
            sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(m, m)), directed=False
        )
        seeded = np.zeros(n_comp, bool)
        seeded[np.unique(comp[fixed])] = True
        isolated = ~seeded[comp]
        vals = out[cells]
        vals[isolated] = 1.0
        out[cells] = vals
    return out.reshape(h, w)
