"""Which pixels look like the clicked ones: GrabCut around the head's mask.

The residual-only head knows *where* a defect is from what differs from the
normal images, but where that difference is blurred (its features have a
stride of 8 model pixels, and on a textured surface the nearest-normal
distance is a smooth hill) it paints a round blob at the click while the
photo shows a thin dark crack plainly. Telling the crack's pixels from the
surface's is what GrabCut (Rother, Kolmogorov and Blake, SIGGRAPH 2004) was
made for: a colour model (Gaussian mixtures) of the foreground and of the
background, and a graph cut whose edges follow the image.

Here it runs in a window around the head's answer, initialised from it:

- sure foreground: the positive click disks; sure background: the negative
  ones;
- probable foreground: the head's mask; probable background: the rest of
  the window, which reaches ``MARGIN_CELLS`` feature cells (16 model px)
  beyond the mask and the positive disks: the head cannot place a boundary
  to better than a cell or two, so that ring is where its mask may be wrong
  and where the background's colours are sampled;
- sure background: the window's frame, as outside GrabCut's own rectangle,
  except on a side the image border clips.

The frame states the window's assumption, that the defect ends within two
cells of the head's mask. Where the head under-paints a large defect that
assumption is wrong, the frame carries the defect's colours, and GrabCut
keeps only the click disks (metal_plate's large defects, issue #14's notes):
a known failure, left as measured.

Inside the window GrabCut's labels become the mask; the head's logits keep
their order within each side (the soft map), each side pushed ``SIDE`` beyond
the threshold. A window longer than ``MAX_SIDE`` px is cut on a
downscaled copy: a click must stay interactive, and GrabCut's cost grows
with the pixels and has a long tail (its max-flow): windows of up to 160 px
took a median of 40 and up to 240 ms on one core, and with 64 px the whole
click's p95 is under 40 ms on metal_plate and magnetic_tile
(bench/click_latency.py). Nothing here was tuned on a benchmark: three
iterations as the GrabCut baseline of the protocol, five mixture components
(OpenCV's fixed choice), the margin from the feature stride, the side from
the time.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .clicks import Click, click_maps

STRIDE = 8  # the head's feature stride at model resolution
MARGIN_CELLS = 2
ITERATIONS = 3
MAX_SIDE = 64  # longer side of the window GrabCut runs on
SIDE = 1.0  # logit margin either side of the threshold for what GrabCut decided
_MIN_SAMPLES = 10  # each colour model needs a few pixels (its k-means has five centres)


def grabcut_refine(
    logits: np.ndarray, clicks: Sequence[Click], scale, radius: float, level: float, image: np.ndarray,
    keep_head: bool = False,
) -> np.ndarray:
    """Logits (H, W) at model resolution with the window around the mask relabelled by GrabCut.

    ``image``: (H, W, 3) uint8 at model resolution (BGR or RGB: GrabCut only
    compares colours). Returns ``logits`` itself when there is no positive
    click or nothing to decide. ``keep_head``: also return ``logits`` itself
    when GrabCut keeps none of the head's mask outside the positive disks,
    i.e. when its colour model shrank the answer to the clicks alone.
    """
    if not any(c.positive for c in clicks):
        return logits
    H, W = logits.shape
    pos, neg = click_maps(clicks, (H, W), radius, scale) > 0
    fg = logits > level
    core = fg | pos
    m = MARGIN_CELLS * STRIDE
    ys, xs = np.nonzero(core)
    y0, y1 = max(0, ys.min() - m), min(H, ys.max() + m + 1)
    x0, x1 = max(0, xs.min() - m), min(W, xs.max() + m + 1)
    win = np.s_[y0:y1, x0:x1]
    h, w = y1 - y0, x1 - x0
    s = min(1.0, MAX_SIDE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))  # (width, height) for OpenCV

    def small(a: np.ndarray) -> np.ndarray:  # a window's bool map on GrabCut's grid: any overlap counts for seeds
        return a if s == 1.0 else cv2.resize(a.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0

    labels = np.full(size[::-1], cv2.GC_PR_BGD, np.uint8)
    labels[fg[win] if s == 1.0 else cv2.resize(fg[win].astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5] = cv2.GC_PR_FGD
    # The window's frame is sure background, as outside GrabCut's own rectangle: once the window is downscaled its
    # probable-background ring is only a few pixels, and without a sure side a uniform surface joins the overpaint.
    # A side clipped by the image border has no ring beyond the mask, so it stays probable.
    frame = np.zeros(size[::-1], bool)
    frame[0, :] |= ys.min() - m >= 0
    frame[-1, :] |= ys.max() + m + 1 <= H
    frame[:, 0] |= xs.min() - m >= 0
    frame[:, -1] |= xs.max() + m + 1 <= W
    labels[frame & (labels == cv2.GC_PR_BGD)] = cv2.GC_BGD
    labels[small(neg[win])] = cv2.GC_BGD
    labels[small(pos[win])] = cv2.GC_FGD
    head = labels == cv2.GC_PR_FGD
    front = (labels == cv2.GC_FGD) | head
    if front.sum() < _MIN_SAMPLES or (~front).sum() < _MIN_SAMPLES:
        return logits
    crop = image[win] if s == 1.0 else cv2.resize(image[win], size, interpolation=cv2.INTER_AREA)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(np.ascontiguousarray(crop), labels, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a degenerate colour model (e.g. a flat window): keep the head's answer
        return logits
    on = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if keep_head and head.any() and not (on & head).any():
        return logits
    if s < 1.0:
        on = cv2.resize(on.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5
    out = logits.copy()
    part = out[win]
    part[on] = np.maximum(part[on], level + SIDE)
    part[~on] = np.minimum(part[~on], level - SIDE)
    return out
