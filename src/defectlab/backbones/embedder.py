"""Patch features: the one pipeline every method's features go through.

resize (a :class:`~defectlab.backbones.resize.Resizer` decides the size) ->
backbone -> chosen layers -> neighbourhood pooling -> one (D, h, w) map per
image at the finest (or a given) stride. Patch kNN, the compositional
detector, the click residuals and the feature-cluster segmenter all use it,
so "a patch" means the same thing everywhere and a change of backbone or
pooling touches one place. Maps go back to image size with
:func:`upsample_map`.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .base import Backbone, FeatureMaps, check_precision, patch_features, resolve_device, round_size
from .factory import cached_backbone
from .registry import DEFAULT_BACKBONE
from .resize import Resizer


class PatchEmbedder:
    """Backbone features of whole images, batched by size.

    Parameters
    ----------
    backbone: registry name, hub id, local directory or a :class:`Backbone`;
        a name is loaded on first use, not here.
    layers: layers to concatenate; ``None`` is the backbone's default.
    pool: neighbourhood averaging of each layer before concatenation (1 = none).
    stride: output stride in input pixels; ``None`` is the finest of ``layers``.
    batch_size: images per backbone forward.
    device: "auto" (CUDA when present), "cpu", "cuda", ...
    precision: "fp32" or "bf16", the forward's arithmetic (see
        :data:`~defectlab.backbones.base.PRECISIONS`); features are float32 either way.
    """

    def __init__(
        self,
        backbone: str | Backbone = DEFAULT_BACKBONE,
        layers: Sequence[str] | None = None,
        pool: int = 3,
        stride: int | None = None,
        batch_size: int = 8,
        device: str = "auto",
        precision: str = "fp32",
    ):
        if pool < 1:
            raise ConfigError(f"pool must be a positive integer, got {pool!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        check_precision(precision)
        self.backbone = backbone
        self.layers = tuple(layers) if layers else None
        self.pool = pool
        self.stride = stride
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self._model: Backbone | None = None

    @property
    def model(self) -> Backbone:
        """The backbone, loaded (and moved to ``device``) on first use."""
        if self._model is None:
            model = cached_backbone(self.backbone) if isinstance(self.backbone, str) else self.backbone
            self._model = model.to(resolve_device(self.device))
        return self._model

    @property
    def name(self) -> str:
        return self.backbone if isinstance(self.backbone, str) else self.backbone.name

    @property
    def feature_layers(self) -> tuple[str, ...]:
        return self.layers or self.model.default_layers

    def model_size(self, shape: tuple[int, int], resizer: Resizer) -> tuple[int, int]:
        """(H, W) the backbone sees for an image of ``shape``: the resizer's, rounded to the backbone's multiple."""
        return round_size(resizer.target(shape), self.model.size_multiple)

    def embed(
        self,
        images: Sequence[np.ndarray],
        sizes: Sequence[tuple[int, int]],
        extra_layers: Sequence[str] = (),
    ) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """Per image: its pooled (D, h, w) float32 patch map and the raw maps of ``extra_layers``.

        ``sizes[i]`` is the (H, W) image ``i`` is resized to (see :meth:`model_size`);
        images of equal size share a forward pass. Tensors stay on the backbone's device.
        """
        if len(images) != len(sizes):
            raise ConfigError(f"embed() got {len(images)} images but {len(sizes)} sizes")
        layers = self.feature_layers
        wanted = tuple(dict.fromkeys(layers + tuple(extra_layers)))
        out: list = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, size in enumerate(sizes):
            groups.setdefault(tuple(size), []).append(i)
        for size, idx in groups.items():
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                fmaps = self.model.extract([images[i] for i in chunk], size, wanted, self.precision)
                own = FeatureMaps({k: fmaps.maps[k] for k in layers}, {k: fmaps.strides[k] for k in layers},
                                  fmaps.input_size)
                feats = patch_features(own, stride=self.stride, pool=self.pool).float()
                for j, i in enumerate(chunk):
                    out[i] = (feats[j], {k: fmaps.maps[k][j].float() for k in extra_layers})
        return out

    def embed_numpy(self, images: Sequence[np.ndarray], resizer: Resizer) -> list[np.ndarray]:
        """(h, w, D) float32 arrays on the CPU, each image resized as ``resizer`` says."""
        sizes = [self.model_size(im.shape[:2], resizer) for im in images]
        return [f.permute(1, 2, 0).cpu().numpy() for f, _ in self.embed(images, sizes)]


def upsample_map(patch_map: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Patch grid -> image-size map, bilinear then Gaussian (the field's convention)."""
    full = cv2.resize(patch_map.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return smooth_map(full, sigma)


def smooth_map(full: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of an image-size map (``sigma`` in pixels; 0 = none); exported models smooth with it too."""
    if sigma > 0:
        full = cv2.GaussianBlur(full, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return full


def resize_to(fmap: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, h, w) or (B, C, h, w) map bilinearly to ``size`` (h', w'); unchanged when it already is."""
    if tuple(fmap.shape[-2:]) == tuple(size):
        return fmap
    batched = fmap if fmap.dim() == 4 else fmap[None]
    out = F.interpolate(batched, size=tuple(size), mode="bilinear", align_corners=False)
    return out if fmap.dim() == 4 else out[0]
