"""Class maps as coloured images, for a person to check the segmentation and alignment.

Colours are fixed per class id (not per image), so the same part has the same
colour in every image of a run: background black, unknown magenta.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

UNKNOWN_COLOUR = (255, 0, 255)


def palette(n: int) -> np.ndarray:
    """(n + 1, 3) uint8 colours; 0 is black; the rest well spread on the hue circle."""
    import colorsys

    out = np.zeros((n + 1, 3), np.uint8)
    for i in range(1, n + 1):
        hue = (i * 0.618033988749895) % 1.0  # golden-ratio steps: neighbours differ
        light = 0.55 if i % 2 else 0.4
        out[i] = [round(c * 255) for c in colorsys.hls_to_rgb(hue, light, 0.85)]
    return out


def colourise(labels: np.ndarray, unknown: int | None = None, image: np.ndarray | None = None,
              alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) uint8 picture of a label map, optionally blended over ``image``."""
    labels = np.asarray(labels)
    n = int(labels.max(initial=0))
    pal = palette(max(n, 1))
    if unknown is not None and unknown <= n:
        pal[unknown] = UNKNOWN_COLOUR
    out = pal[labels]
    if image is not None:
        if image.shape[:2] != labels.shape:
            import cv2

            image = cv2.resize(image, (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_AREA)
        out = (alpha * out + (1 - alpha) * image).astype(np.uint8)
    return out


def save_class_map(path: str | Path, labels: np.ndarray, unknown: int | None = None,
                   image: np.ndarray | None = None) -> Path:
    """Write a coloured PNG of a class map (blended over ``image`` when given); returns the path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(colourise(labels, unknown, image)).save(path)
    return path
