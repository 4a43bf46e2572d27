"""The drawing primitives every generator of synthetic defects paints with.

The demo's surfaces, the drawn scenes and the training defects each choose
their own shapes, sizes and tones, because they imitate different things (a
demo's obvious marks, damage on one part of a scene, the spread of real
defects a click head must learn). They draw with these: a stroke along
points, a tone painted over an image through a soft mask, or a brightness
shift through one.
"""

from __future__ import annotations

import cv2
import numpy as np


def stroke(shape: tuple[int, int], points, thickness: int, antialias: bool = False) -> np.ndarray:
    """Coverage in [0, 1] (float64) of an open polyline through ``points`` (x, y), ``thickness`` px wide."""
    canvas = np.zeros(shape, np.uint8)
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    cv2.polylines(canvas, [np.round(np.asarray(points, np.float64)).astype(np.int32)], False, 255,
                  thickness=thickness, lineType=line)
    return canvas / 255.0


def tint(image: np.ndarray, alpha: np.ndarray, tone, opacity: float) -> np.ndarray:
    """``tone`` painted over ``image`` with coverage ``alpha`` (HxW) times ``opacity``; uint8 out."""
    a = alpha.reshape(alpha.shape[:2] + (1,)) * opacity
    out = image.astype(np.float32) * (1 - a) + np.asarray(tone) * a
    return np.clip(out, 0, 255).astype(np.uint8)


def shift(image: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``image`` brightened (or darkened, negative) by ``delta`` (HxW grey levels) in every channel; uint8 out."""
    return np.clip(image.astype(np.float32) + delta[..., None], 0, 255).astype(np.uint8)
