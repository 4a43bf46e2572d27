"""Fill between clicks: a random walker seeded by the clicks, with the head's mask as its prior.

Some defects barely show: a large area ground unevenly, a faint stain, a
"mura"-like shading. The image then gives the head no boundary to follow,
so it paints a blob around each positive click and the labeller pays one
click per blob. What the clicks themselves say is "the defect spans these
points"; a random walker (Grady, PAMI 2006) turns that into a region: it
spreads each seed's label along the image, stops at strong brightness or colour
edges, and fills the space between positive clicks that no edge separates.

How it sits on the head (``ClickSession(fill=True)``, the default):

- It runs on a coarse grid (longer side ``side`` = 96 cells) with the
  head's probability as a prior (Grady, "Multilabel random walker image
  segmentation using prior models", CVPR 2005): it minimises
  ``x'Lx + strength * |x - p|^2`` with the seeds fixed. ``strength`` reads
  as a length: the prior outweighs propagation beyond about
  ``1 / sqrt(strength)`` cells from a seed (0.01: 10 cells, a tenth of the
  grid).
- Seeds: the click disks; the image border away from positive clicks
  (background, as in the random-walker baseline, or one click would fill
  the image); and every cell the head is sure of, ``|logit| > sure``.
  On the validation images the head's logits on background near a click
  are -15 to -25 while the defect pixels it missed sit at -1 to -7;
  ``sure`` = 11.5 (p = 1e-5) pins the first and leaves the second free, so
  the walk fills where the head hesitates, not across what it rejects.
  (A head trained with other settings may be sure at other logits; check
  its validation logits with ``bench/click_logits.py`` before reusing
  11.5. The current shipped head, trained with four times as many
  synthetic defects: background near a click median -18.5, missed defect
  pixels median -3.5, 5 % of them below -11.5; the head 11.5 was read from:
  -18.0, -3.1, 3 %.)
- It only grows the head's mask: the walk's result may raise the logits,
  never lower them (lowering cut good masks of synthetic large areas
  short), and never where the head is sure at full resolution (the coarse
  grid would otherwise blur a few pixels across a sharp defect edge).
- It adds regions, not rims: a pixel it would switch on must lie in an
  addition that a disk of ``min_radius`` = 1.5 cells fits into
  (morphological opening). Without this rule fill switched on twice as
  many wrong pixels as right ones on the validation and development
  images, and 86 % of the wrong ones lay within 1.5 cells of the head's
  mask (``bench/fill_added.py``): the walk cannot place an edge to better
  than a cell, so it nudged the boundary of small, visible defects outwards
  and cost them IoU. Fine detail (thin cracks, sharp edges) stays the
  head's.

The settings were chosen among the variants in
``bench/results/click_train_variants.md`` by the validation and
development scores (``bench/click_val.py --methods adclick,adclick-nofill``,
``bench/click_dev.py --no-fill``), not by the held-out classes. Without the
rim rule fill cost mIoU@5 on small, visible defects and was an option; with
it fill and no fill score the same mIoU@5 (mean of the two scores over two
training seeds: 0.786 each) while fill saves clicks on the validation
images (NoC@85 13.9 -> 13.3, seed 1: 13.6 -> 13.2), hence on by default.
Edge weights follow scikit-image's ``random_walker``
(``exp(-beta / (10 std) * dI^2)``, beta 130), with ``dI^2`` the mean over
colour channels: a grey image weighs as before, and on colour images a
boundary between two colours of equal brightness stops the walk. One
sparse solve per click, about 10 ms.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg, spsolve

from ..errors import ConfigError
from .clicks import Click, border_background, click_maps

STRENGTH = 0.01
SURE = 11.5
BETA = 130.0
SIDE = 96
MIN_RADIUS = 1.5
_CLIP = 0.01  # probabilities kept in [0.01, 0.99] so the logit correction stays finite


class Fill:
    """Per-image random walker: build once from the image, call per click.

    ``image``: (H, W) grey or (H, W, C) colour, float in [0, 1], at model
    resolution (the grid the head's logits live on). Colour counts: a
    boundary between two colours of equal brightness stops the walk too.
    """

    def __init__(
        self,
        image: np.ndarray,
        strength: float = STRENGTH,
        sure: float = SURE,
        beta: float = BETA,
        side: int = SIDE,
        min_radius: float = MIN_RADIUS,
    ):
        if strength <= 0:
            raise ConfigError(f"strength must be > 0, got {strength}")
        if min_radius < 0:
            raise ConfigError(f"min_radius must be >= 0 grid cells, got {min_radius}")
        if sure <= 0:
            raise ConfigError(f"sure must be a logit > 0, got {sure}")
        H, W = image.shape[:2]
        s = min(1.0, side / max(H, W))
        self.shape = (max(2, round(H * s)), max(2, round(W * s)))
        self.strength = strength
        self.sure = sure
        self.min_radius = min_radius
        small = cv2.resize(image.astype(np.float32), self.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float64)
        self.laplacian = _laplacian(small.reshape(*self.shape, -1), beta)

    def __call__(
        self, logits: np.ndarray, clicks: Sequence[Click], scale: tuple[float, float], radius: float, level: float = 0.0
    ) -> np.ndarray:
        """Logits (H, W) at model resolution, grown where the walk says so.

        ``scale`` maps image pixels to them; ``level`` is the logit above
        which a pixel is in the mask (the session's threshold).
        """
        if not any(c.positive for c in clicks):
            return logits
        H, W = logits.shape
        h, w = self.shape
        pos, neg = click_maps(clicks, (h, w), radius * h / H, (scale[0] * h / H, scale[1] * w / W)) > 0
        coarse = cv2.resize(logits, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)
        seeds = np.full((h, w), np.nan)
        seeds[border_background(pos)] = 0.0
        seeds[coarse < -self.sure] = 0.0
        seeds[coarse > self.sure] = 1.0
        seeds[neg] = 0.0
        seeds[pos] = 1.0

        prior = 1.0 / (1.0 + np.exp(-coarse))
        free = np.isnan(seeds).ravel()
        x = seeds.ravel().copy()
        if free.any():
            L = self.laplacian
            a = L[free][:, free] + self.strength * sp.identity(int(free.sum()), format="csr")
            b = self.strength * prior.ravel()[free] - L[free][:, ~free] @ x[~free]
            # Jacobi-preconditioned CG: twice as fast as a direct solve at this size
            # (the prior keeps the system well conditioned); direct if it stalls.
            solved, info = cg(a, b, rtol=1e-6, maxiter=2000, M=sp.diags(1.0 / a.diagonal()))
            x[free] = solved if info == 0 else spsolve(a.tocsc(), b)
        x = np.clip(x.reshape(h, w), _CLIP, 1 - _CLIP)
        p = np.clip(prior, _CLIP, 1 - _CLIP)
        grow = np.maximum(np.log(x / (1 - x)) - np.log(p / (1 - p)), 0.0).astype(np.float32)
        grow = cv2.resize(grow, (W, H), interpolation=cv2.INTER_LINEAR)
        grow[logits < -self.sure] = 0.0  # the coarse grid blurs across the head's sure edges; keep them
        # The walk cannot place an edge to better than about a cell, so what it
        # would add as a thin rim around the head's mask is the head's call:
        # only additions a disk of ``min_radius`` cells fits into are kept.
        added = ((logits <= level) & (logits + grow > level)).astype(np.uint8)
        if added.any() and self.min_radius > 0:
            r = max(1, int(round(self.min_radius * H / h)))
            disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            grow[(added > 0) & (cv2.morphologyEx(added, cv2.MORPH_OPEN, disk) == 0)] = 0.0
        return logits + grow


def _laplacian(image: np.ndarray, beta: float) -> sp.csr_matrix:
    """Graph Laplacian of the 4-connected grid with scikit-image's random-walker edge weights.

    ``image`` is (h, w, C). The squared difference between neighbours is the
    mean over channels, so a grey image stored as three equal channels gets
    exactly the weights of its single channel.
    """
    h, w, c = image.shape
    idx = np.arange(h * w).reshape(h, w)
    flat = image.reshape(h * w, c)
    scale = beta / (10 * (image.std() + 1e-6))
    i = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    j = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    weights = np.exp(-scale * ((flat[i] - flat[j]) ** 2).mean(axis=1)) + 1e-6  # never 0: the graph stays connected
    return graph_laplacian(i, j, weights, h * w)


def graph_laplacian(i: np.ndarray, j: np.ndarray, weights: np.ndarray, n: int) -> sp.csr_matrix:
    """Laplacian (degree - adjacency) of the undirected graph on ``n`` nodes with edges ``i[k] - j[k]``."""
    adjacency = sp.coo_matrix((np.concatenate([weights, weights]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                              shape=(n, n)).tocsr()
    return (sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency).tocsr()
