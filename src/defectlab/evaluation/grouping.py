"""Which images a metric is computed over: all of them, and normal vs each kind of anomaly.

A per-type AUROC must compare one anomaly type against the *normal* images
only, never against the other anomaly types, or a type that is easy to tell
from the others but hard to tell from normal scores well. One helper, so the
detection engine, the compositional ablation and the reports agree.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def anomaly_groups(labels: Sequence[int], *tags: Sequence[str]) -> dict[str, np.ndarray]:
    """``{"all": every image, tag: normal images | images with that tag, ...}`` as boolean masks.

    ``tags`` are per-image label lists (anomaly kind, anomaly type, ...), "" or
    None for normal images; the groups of every list are merged in order.
    Groups without both normal and anomalous images are left out.
    """
    labels = np.asarray(labels)
    normal = labels == 0
    groups = {"all": np.ones(len(labels), bool)}
    for per_image in tags:
        per_image = list(per_image)
        for tag in sorted({t for t, y in zip(per_image, labels) if t and y == 1}):
            groups[tag] = normal | np.array([t == tag for t in per_image])
    return {name: keep for name, keep in groups.items() if normal[keep].any() and not normal[keep].all()}
