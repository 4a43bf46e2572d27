"""How an image is resized before the backbone sees it.

Resizing decides the physical size of a patch, and a patch-kNN detector
compares patches across images, so every image must be resized the same way
its normal references were. Three policies:

- ``squash``: every image to ``size`` x ``size``. Simple, but when the
  photographed parts vary in extent (crops of different sizes), each image
  gets a different scale and aspect, and normal texture stops matching.
- ``shorter-side``: the shorter side to ``size``, aspect kept. Right when every
  image shows the whole object (MVTec-style), whatever its resolution.
- ``common-scale``: one scale factor for all images, chosen from the normal
  images so that their median shorter side becomes ``size``. Right when a
  fixed camera photographs parts or crops of varying extent: a millimetre
  stays the same number of pixels, which is what texture comparison needs.

``auto`` (the default) picks ``shorter-side`` when the normal images share one
size and aspect, and ``common-scale`` when their sizes vary: differing sizes
from one line almost always mean differing crops of the same optics.

Whatever the policy, both sides end in [``min_side``, ``max_side``]: the long
side is capped first (memory and time), then a short side below ``min_side``
is grown (the deeper stages need some spatial extent). A strip more elongated
than ``max_side / min_side`` (16:1 by default) cannot keep its aspect within
both bounds, so it is squeezed along its length to ``max_side``; growing the
whole strip instead would turn a 1 x 10000 image into 64 x 640000 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.checks import int_in_range
from ..errors import ConfigError, NotFittedError

POLICIES = ("auto", "squash", "shorter-side", "common-scale")
MIN_SIDE = 64  # below this the deeper stages have no spatial extent
MAX_SIDE = 1024  # caps memory and time for very large images


@dataclass
class Resizer:
    policy: str = "auto"
    size: int = 256
    max_side: int = MAX_SIDE
    min_side: int = MIN_SIDE
    scale: float | None = None  # set by fit() for common-scale

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ConfigError(f"unknown resize policy {self.policy!r}; choose from {POLICIES}")
        self.size = int_in_range("image_size", self.size, self.min_side, self.max_side)
        # ``policy`` becomes the resolved one after fit(); a later fit on other
        # images must resolve "auto" afresh, so the request is kept apart.
        self.requested = self.policy

    def fit(self, shapes: list[tuple[int, int]]) -> "Resizer":
        self.policy, self.scale = self.requested, None
        if self.policy == "auto":
            aspects = {round(h / w, 2) for h, w in shapes}
            self.policy = "shorter-side" if len(set(shapes)) == 1 or len(aspects) == 1 else "common-scale"
        if self.policy == "common-scale":
            self.scale = self.size / float(np.median([min(h, w) for h, w in shapes]))
        return self

    def target(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(H, W) to resize an image of ``shape`` (H, W) to, before rounding to the backbone's multiple."""
        h, w = shape
        if self.policy == "squash":
            return self.size, self.size
        if self.policy == "shorter-side":
            s = self.size / min(h, w)
        elif self.policy == "common-scale":
            if self.scale is None:
                raise NotFittedError("Resizer.fit() must see the normal images before common-scale resizing")
            s = self.scale
        else:
            raise NotFittedError("Resizer.fit() must resolve the 'auto' policy first")
        th, tw = h * s, w * s
        shrink = min(1.0, self.max_side / max(th, tw))
        grow = max(1.0, self.min_side / min(th * shrink, tw * shrink))
        return self._bounded(th * shrink * grow), self._bounded(tw * shrink * grow)

    def _bounded(self, side: float) -> int:
        return min(self.max_side, max(self.min_side, round(side)))
