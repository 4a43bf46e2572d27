"""Structural descriptors: patch features against a memory bank of normal patches.

Three views of the same patches, as in the reference method:

- ``patch`` (class-agnostic): every patch against every normal patch;
- ``class-patch`` (class-aware): a patch of class c only against normal
  patches of class c, so a patch that looks like *another* part (a pin's
  texture where the tray should be) is anomalous too; the worst class counts;
- ``foreground-patch``: only patches on parts, against normal part patches;
  background clutter cannot raise it, and defects on small parts are not
  averaged away among many background patches.

Each patch's score is the cosine distance to its nearest normal patch; the
image score is the mean of the worst ``top_percent`` % (2 %, the reference's
choice: a defect covers a few patches, the single worst is noisy).
"""

from __future__ import annotations

import numpy as np

from ...backbones.knn import CosineIndex
from ...errors import ConfigError
from .base import DESCRIPTORS, Descriptor, DescriptorScore, Parse, class_name, top_percent_mean

# Fixed fusion weight for one shot: the worst-2% nearest-normal cosine distance
# of a normal image. Measured with EfficientNet-Lite0 (stage3+stage5, 3x3 pooled)
# on composed scenes it lies around 0.1-0.2 (see bench/results/compositional.md);
# with >= 2 shots leave-one-out replaces it.
PATCH_UNIT = 0.15


class _PatchBank(Descriptor):
    """What the three share: structural, scored in patch units, the worst ``top_percent`` % of patches."""

    kind = "structural"
    unit = PATCH_UNIT

    def __init__(self, top_percent: float = 2.0):
        if not 0 < top_percent <= 100:
            raise ConfigError(f"top_percent must be in (0, 100], got {top_percent}")
        self.top_percent = top_percent
        self.index: CosineIndex | None = None


@DESCRIPTORS.register("patch")
class PatchDescriptor(_PatchBank):
    name = "patch"

    def fit(self, parses: list[Parse]) -> "PatchDescriptor":
        self.index = CosineIndex(np.concatenate([p.flat_features for p in parses]))
        return self

    def score(self, parse: Parse) -> DescriptorScore:
        self._check_fitted(self.index)
        dist = self.index.distance(parse.flat_features)
        value = top_percent_mean(dist, self.top_percent)
        reason = f"worst {self.top_percent:g} % of patches"
        return DescriptorScore(value, reason=reason, patch_map=dist.reshape(parse.grid))


@DESCRIPTORS.register("class-patch")
class ClassAwarePatchDescriptor(_PatchBank):
    name = "class-patch"

    def __init__(self, top_percent: float = 2.0):
        super().__init__(top_percent)
        self.indexes: dict[int, CosineIndex] = {}
        self.fallback: CosineIndex | None = None

    def fit(self, parses: list[Parse]) -> "ClassAwarePatchDescriptor":
        feats = np.concatenate([p.flat_features for p in parses])
        classes = np.concatenate([p.patch_classes for p in parses])
        self.fallback = CosineIndex(feats)
        self.indexes = {int(c): CosineIndex(feats[classes == c]) for c in np.unique(classes)}
        return self

    def score(self, parse: Parse) -> DescriptorScore:
        self._check_fitted(self.fallback)
        feats, classes = parse.flat_features, parse.patch_classes
        dist = np.zeros(len(feats), np.float32)
        worst, worst_cls = 0.0, None
        for c in np.unique(classes):
            sel = classes == c
            # a class no normal image has patches of is compared with everything:
            # its very presence is the histogram's business, not this descriptor's
            index = self.indexes.get(int(c), self.fallback)
            dist[sel] = index.distance(feats[sel])
            value = top_percent_mean(dist[sel], self.top_percent)
            if value > worst or worst_cls is None:
                worst, worst_cls = value, int(c)
        reason = ""
        if worst_cls is not None:
            reason = f"{class_name(parse, worst_cls)}: its patches are unlike its normal patches"
        return DescriptorScore(worst, worst_cls, reason, patch_map=dist.reshape(parse.grid))


@DESCRIPTORS.register("foreground-patch")
class ForegroundPatchDescriptor(_PatchBank):
    name = "foreground-patch"

    def fit(self, parses: list[Parse]) -> "ForegroundPatchDescriptor":
        fg = [p.flat_features[p.patch_classes != 0] for p in parses]
        bank = np.concatenate(fg)
        if len(bank) == 0:  # no parts found in any normal image: all patches stand in
            bank = np.concatenate([p.flat_features for p in parses])
        self.index = CosineIndex(bank)
        return self

    def score(self, parse: Parse) -> DescriptorScore:
        self._check_fitted(self.index)
        fg = parse.patch_classes != 0
        dist = np.zeros(len(fg), np.float32)
        if fg.any():
            dist[fg] = self.index.distance(parse.flat_features[fg])
        value = top_percent_mean(dist[fg], self.top_percent) if fg.any() else 0.0
        return DescriptorScore(value, reason=f"worst {self.top_percent:g} % of part patches",
                               patch_map=dist.reshape(parse.grid))
