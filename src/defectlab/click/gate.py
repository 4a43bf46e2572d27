"""Only what differs from the normal images can be a defect: the residual gate.

A head run on a product it was never trained on can read one positive
click on a small defect as "this whole surface": on magnetic tiles, with
the head trained on the other four shared products, the first click on a
blowhole of 0.1 % of the image switched on half of the tile. The residual
features already say which pixels look normal: ``ImageFeatures.dist`` is
each cell's cosine distance to its nearest normal patch divided by the 99 %
quantile of the normal images' own leave-one-out distances
(:mod:`defectlab.click.residual`), so a cell below 1.0 is as close to
the normal images as 99 % of normal patches are to each other. On those
tiles 48-99 % of the wrongly switched-on pixels were below 1.0 and almost
no defect pixel was.

The gate switches off every pixel below that level unless a positive
click's disk covers it (a click is an order, :mod:`defectlab.click.obey`).
Its one number is the reference's own scale, not a tuned threshold.

Off by default, as measured (``bench/results/click_lopo_1200.md``): on
the four held-out products it was not designed on it lost three times
(battery_weld mIoU@5 0.47 -> 0.20, metal_plate 0.7 clicks more at 85 %
IoU, ball_screw 0.24 -> 0.20): weld seams and small pits are defects
whose stride-8 feature cells look close to normal ones, and the gate cuts
them. Where a product's defects are plainly unlike its normal texture
(magnetic tiles: 0.09 -> 0.31) it is worth switching on.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .clicks import Click, click_maps
from .obey import OFF

NORMAL_LEVEL = 1.0  # residual distance in units of the reference's own 99 % quantile


def residual_gate(logits: np.ndarray, dist: np.ndarray, clicks: Sequence[Click], scale, radius: float,
                  level: float) -> np.ndarray:
    """``logits`` (H, W) with pixels that look normal (``dist`` (h, w) below the level) held below ``level``."""
    H, W = logits.shape
    normal = cv2.resize(dist.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR) < NORMAL_LEVEL
    if any(c.positive for c in clicks):
        normal &= ~(click_maps(clicks, (H, W), radius, scale)[0] > 0)
    return np.where(normal, np.minimum(logits, level - OFF), logits)
