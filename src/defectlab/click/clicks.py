"""Clicks: the record, their encoding as disk maps, and the simulated user.

Click maps follow RITM / SimpleClick: one channel of filled disks for the
positive clicks, one for the negative ones, both at model resolution. Disks
rather than single pixels (or Gaussians) because a disk of fixed radius
survives the strided encoder as a clear "here" and costs nothing to draw.

The simulated user is the standard evaluation protocol: the next click goes
to the point farthest from the boundary of the largest error region,
positive inside a missed defect (false negative), negative inside a false
alarm (false positive). Training uses the same rule, so the network learns
from the clicks it will be given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..errors import ConfigError

DEFAULT_RADIUS = 5  # px at model resolution


@dataclass(frozen=True)
class Click:
    """A click at pixel (x, y) of the image (column, row); positive = "defect here"."""

    x: float
    y: float
    positive: bool


def click_maps(
    clicks: Sequence[Click],
    shape: tuple[int, int],
    radius: float = DEFAULT_RADIUS,
    scale: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """(2, H, W) float32 disk maps [positive, negative] for clicks given in image pixels.

    ``scale`` = (sy, sx) maps image pixels to the map's pixels, so the disk
    radius is the same at model resolution whatever the image size.
    """
    h, w = shape
    maps = np.zeros((2, h, w), dtype=np.float32)
    r = max(1, int(round(radius)))
    for c in clicks:
        cv2.circle(maps[0 if c.positive else 1], map_pixel(c, scale, shape), r, 1.0, thickness=-1)
    return maps


def map_pixel(click: Click, scale: tuple[float, float], shape: tuple[int, int]) -> tuple[int, int]:
    """(column, row) of ``click`` on a map of ``shape`` that is ``scale`` = (sy, sx) times the image."""
    h, w = shape
    # Pixel centres: image pixel x covers [x, x+1), so its centre maps to (x+0.5)*s.
    cx = int(np.clip(np.floor((click.x + 0.5) * scale[1]), 0, w - 1))
    cy = int(np.clip(np.floor((click.y + 0.5) * scale[0]), 0, h - 1))
    return cx, cy


def border_background(positive: np.ndarray) -> np.ndarray:
    """Bool (h, w): the map's border cells farther than an eighth of its longer side from every positive disk.

    Random walks seeded only by the clicks split the image between one
    positive and one negative click; these border cells are the background
    seeds that the random-walker baseline and fill between clicks share.
    """
    h, w = positive.shape
    border = np.zeros((h, w), bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    far = cv2.distanceTransform((~np.asarray(positive, bool)).astype(np.uint8), cv2.DIST_L2, 3) > max(h, w) / 8
    return border & far


def next_click(gt: np.ndarray, pred: np.ndarray, valid: np.ndarray | None = None) -> Click | None:
    """The simulated user's next click, or None when the prediction is perfect.

    The largest connected error region (false negatives and false positives
    considered separately, 8-connected) is found, and the click goes to its
    point farthest from the region's boundary, the image border counting as
    boundary. Ties go to the first pixel in raster order, so runs repeat.
    ``valid`` limits errors to a region (training crops with padding).
    """
    gt = np.asarray(gt, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ConfigError(f"gt shape {gt.shape} and pred shape {pred.shape} differ")
    fn = gt & ~pred
    fp = pred & ~gt
    if valid is not None:
        fn &= valid
        fp &= valid
    best: tuple[int, np.ndarray, bool] | None = None
    for errors, positive in ((fn, True), (fp, False)):
        if not errors.any():
            continue
        n, labels, stats, _ = cv2.connectedComponentsWithStats(errors.view(np.uint8), connectivity=8)
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[k, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            best = (area, labels == k, positive)
    if best is None:
        return None
    _, region, positive = best
    y, x = farthest_from_boundary(region)
    return Click(float(x), float(y), positive)


def farthest_from_boundary(region: np.ndarray) -> tuple[int, int]:
    """(row, col) of the pixel of ``region`` farthest from its boundary (image border included)."""
    padded = np.pad(region, 1).view(np.uint8)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    idx = int(np.argmax(dist))
    return divmod(idx, region.shape[1])


def random_click_inside(region: np.ndarray, rng: np.random.Generator, positive: bool, interior: float = 0.3) -> Click | None:
    """A random click inside ``region``, biased to its interior (training's first clicks).

    Real users click near the middle of a defect, not on its rim; taking
    pixels whose distance to the boundary is at least ``interior`` of the
    maximum keeps simulated first clicks realistic while still varying them.
    """
    if not region.any():
        return None
    padded = np.pad(region, 1).view(np.uint8)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    ys, xs = np.nonzero(dist >= interior * dist.max())
    i = int(rng.integers(len(ys)))
    return Click(float(xs[i]), float(ys[i]), positive)
