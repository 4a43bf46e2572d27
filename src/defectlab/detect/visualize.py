"""Heat-map overlays: what a person looks at to judge a detector."""

from __future__ import annotations

import cv2
import numpy as np


def normalise_map(anomaly_map: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Map scores to [0, 1] with one fixed range, so overlays of different
    images are comparable (a per-image min-max would make every image look
    equally anomalous)."""
    return np.clip((anomaly_map - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)


def overlay(image: np.ndarray, anomaly_map: np.ndarray, vmin: float, vmax: float, alpha: float = 0.5) -> np.ndarray:
    """RGB uint8 image with a JET heat map blended in where the map is high."""
    heat = (normalise_map(anomaly_map, vmin, vmax) * 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    weight = heat.astype(np.float32)
    weight *= alpha / 255.0
    # image + (colour - image) * weight, in place: one float copy of the image
    # instead of five, which is what bounds memory on a 100-megapixel image.
    blend = colour.astype(np.float32)
    blend -= image
    blend *= weight[..., None]
    blend += image
    return blend.astype(np.uint8)


def side_by_side(image: np.ndarray, anomaly_map: np.ndarray, vmin: float, vmax: float, title: str = "") -> np.ndarray:
    """Image | overlay, with an optional caption strip, as one RGB array."""
    panel = np.concatenate([image, overlay(image, anomaly_map, vmin, vmax)], axis=1)
    if not title:
        return panel
    strip = np.full((24, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, drawable(title), (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def drawable(text: str) -> str:
    """``text`` with every character OpenCV's Hershey fonts cannot draw as "?".

    They draw printable ASCII only, and a lone surrogate (how Python carries a
    file name's undecodable bytes) makes ``cv2.putText`` crash the process;
    pass names through :func:`defectlab.data.names.path_text` first to keep
    them legible.
    """
    return "".join(c if " " <= c <= "~" else "?" for c in text)
