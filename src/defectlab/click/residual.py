"""Residual features: how each patch of an image differs from normal.

A defect is defined by its difference from the normal product, not by
object boundaries, and that difference is what ADClick feeds its network.
For every patch of the query image we take its backbone feature f and the
nearest normal patch feature n (cosine), and pass |f - n| (per channel) plus
the scalar distance 1 - cos(f, n).

The nearest patch is searched in two steps, as in retrieval-based
anomaly detection: first the ``top_k`` normal images most similar to the
query by a global descriptor (mean of the unit patch features), then all
patches of those images. Searching only look-alike references keeps the
search cheap with hundreds of normals and, on products whose appearance
drifts (lighting, texture batches), compares against the right ones.

``NormalReference`` holds the normal memory; it is built once per product
and shared by every image (and every ``ClickSession``) of that product.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from ..backbones import DEFAULT_BACKBONE
from ..backbones.embedder import PatchEmbedder, resize_to, upsample_map
from ..backbones.knn import CosineIndex
from ..backbones.resize import Resizer
from ..data.io import load_image
from ..errors import ConfigError

# Distances are divided by this quantile of leave-one-out normal distances,
# so that 1.0 means "as far as the rare normal patch" on every product.
NORMAL_QUANTILE = 0.99
FALLBACK_SCALE = 0.1  # cosine distance; used when there is a single normal image
COARSE_STRIDE = 8
FINE_STRIDE = 4


@dataclass
class ImageFeatures:
    """Everything the click head needs about one image, computed once.

    Spatial tensors are (C, h, w) at the model resolution ``size`` divided by
    the stride; ``rgb`` is the image at model resolution in [0, 1].
    """

    image_shape: tuple[int, int]  # (H, W) of the original image
    size: tuple[int, int]  # (H, W) the model sees
    rgb: torch.Tensor  # (3, H, W) float32
    feat: torch.Tensor  # (C, H/8, W/8) unit features * sqrt(C)
    resid: torch.Tensor  # (C, H/8, W/8) |f - n| * sqrt(C)
    dist: torch.Tensor  # (1, H/8, W/8) cosine distance / normal scale
    fine: torch.Tensor  # (Cf, H/4, W/4) shallow features for boundaries

    def anomaly_map(self, sigma: float = 4.0) -> np.ndarray:
        """float32 (H, W) heat map at the original image size (1.0 = rare-normal level)."""
        return upsample_map(self.dist[0].numpy(), self.image_shape, sigma)

    def tensors(self) -> dict[str, torch.Tensor]:
        """For caching (safetensors): float16 halves disk and memory at no visible cost."""
        return {
            "rgb": (self.rgb * 255).round().to(torch.uint8).contiguous(),
            "feat": self.feat.half(),
            "resid": self.resid.half(),
            "dist": self.dist.half(),
            "fine": self.fine.half(),
            "image_shape": torch.tensor(self.image_shape),
        }

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor]) -> "ImageFeatures":
        rgb = t["rgb"].float() / 255.0
        return cls(
            image_shape=tuple(int(v) for v in t["image_shape"]),
            size=tuple(rgb.shape[-2:]),
            rgb=rgb,
            feat=t["feat"].float(),
            resid=t["resid"].float(),
            dist=t["dist"].float(),
            fine=t["fine"].float(),
        )


@dataclass(frozen=True)
class FeatureSettings:
    """How the features are computed: a head works only with the settings it was trained with.

    A checkpoint's config is their source (``ClickConfig.features``), and
    ``ClickModel.reference`` builds a NormalReference with them.

    backbone: registry name, hub id or local directory (see :mod:`defectlab.backbones`).
    layers: backbone layers for the patch features (stride 8 after concatenation).
    fine_layer: a stride-4 layer for boundary detail (not compared with normals).
    pool: neighbourhood averaging of patch features before matching.
    image_size, max_side: resizing (see :class:`defectlab.backbones.resize.Resizer`,
        policy ``auto``): images of varying size keep one common scale, so a
        millimetre of surface is the same number of pixels in query and normals.
    top_k: normal images retrieved per query before the patch search.
    """

    backbone: str = DEFAULT_BACKBONE
    layers: tuple[str, ...] = ("stage3", "stage5")
    fine_layer: str = "stage2"
    pool: int = 3
    image_size: int = 256
    max_side: int = 448
    top_k: int = 5

    def __post_init__(self):
        # JSON gives a list; as a tuple, settings read from a checkpoint equal the ones written.
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {self.top_k}")

    def head_inputs(self) -> dict:
        """The settings that decide what the head's input channels mean; size and top_k may differ from training."""
        return {"backbone": self.backbone, "layers": list(self.layers), "fine_layer": self.fine_layer, "pool": self.pool}

    def to_dict(self) -> dict:
        return {**asdict(self), "layers": list(self.layers)}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSettings:
        """From a dict that may hold other keys too (a checkpoint's config); missing ones take the defaults."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _embedder(settings: FeatureSettings, batch_size: int) -> PatchEmbedder:
    # The backbone stays on the CPU, where the head and the session's tensors are.
    return PatchEmbedder(settings.backbone, settings.layers, settings.pool, stride=COARSE_STRIDE,
                         batch_size=batch_size, device="cpu")


def _descriptors(patches: list[torch.Tensor]) -> CosineIndex:
    """Step one of the search: normal images by their mean unit patch feature."""
    return CosineIndex(torch.stack([_unit(p.mean(0)) for p in patches]).numpy())


class NormalReference:
    """The normal memory of one product: build once, share across images.

    Parameters
    ----------
    normal_images: paths, PIL images or arrays of defect-free images of the product.
    settings: how features are computed; use the checkpoint's (``ClickModel.reference``).
    batch_size: images per backbone forward.
    """

    def __init__(
        self,
        normal_images: Sequence,
        settings: FeatureSettings = FeatureSettings(),
        progress: bool = True,
        batch_size: int = 8,
    ):
        if isinstance(normal_images, (str, bytes)) or not len(normal_images):
            raise ConfigError("NormalReference needs a non-empty list of normal images (paths, PIL images or arrays)")
        self.settings = settings
        self.embedder = _embedder(settings, batch_size)
        images = [load_image(x) for x in normal_images]
        self.resizer = Resizer("auto", settings.image_size, max_side=settings.max_side).fit([im.shape[:2] for im in images])
        self.patches: list[torch.Tensor] = []  # per normal image, (h*w, C) unit rows
        bar = tqdm(total=len(images), desc="normal reference", unit="img", disable=not progress or len(images) < 4)
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            for coarse, _ in self.embedder.embed(chunk, [self.model_size(im.shape[:2]) for im in chunk]):
                self.patches.append(_unit(coarse.flatten(1).T))
            bar.update(len(chunk))
        bar.close()
        self.descriptors = _descriptors(self.patches)
        self.scale = self._normal_scale()

    @classmethod
    def from_patches(cls, patches: list[torch.Tensor], settings: FeatureSettings, resizer: Resizer,
                     scale: float, batch_size: int = 8) -> "NormalReference":
        """A reference rebuilt from what one computed (per-image unit patch rows, resizer, scale), e.g. a saved one."""
        ref = cls.__new__(cls)
        ref.settings, ref.embedder, ref.resizer = settings, _embedder(settings, batch_size), resizer
        ref.patches, ref.descriptors, ref.scale = list(patches), _descriptors(patches), float(scale)
        return ref

    def __len__(self) -> int:
        return len(self.patches)

    def model_size(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(H, W) the backbone sees for an image of ``shape``."""
        return self.embedder.model_size(shape, self.resizer)

    # -- search -------------------------------------------------------------
    def _nearest(self, patches: torch.Tensor, exclude: Iterable[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest normal patch (M, C) and its cosine distance (M,) for unit ``patches``."""
        exclude = set(exclude)
        wanted = min(len(self), self.settings.top_k + len(exclude))
        ranked = self.descriptors.search(_unit(patches.mean(0))[None].numpy(), wanted)[1][0]
        chosen = [int(i) for i in ranked if i not in exclude][: self.settings.top_k]
        if not chosen:
            raise ConfigError(f"exclude={sorted(exclude)} leaves no normal image to compare with")
        bank = torch.cat([self.patches[i] for i in chosen])
        dist, idx = CosineIndex(bank.numpy()).search(patches.numpy(), 1)
        return bank[torch.from_numpy(idx[:, 0])], torch.from_numpy(dist[:, 0]).clamp_min(0.0)

    @torch.inference_mode()
    def features(self, image, exclude: Iterable[int] = ()) -> ImageFeatures:
        """Backbone, residual and distance features of one image (the per-image precompute).

        ``exclude`` drops normal images (by index) from the search, e.g. the
        image itself when a reference image is scored.
        """
        img = load_image(image)
        size = self.model_size(img.shape[:2])
        coarse, extra = self.embedder.embed([img], [size], extra_layers=(self.settings.fine_layer,))[0]
        fine = resize_to(extra[self.settings.fine_layer], (size[0] // FINE_STRIDE, size[1] // FINE_STRIDE))
        c, h, w = coarse.shape
        patches = _unit(coarse.flatten(1).T)
        nearest, dist = self._nearest(patches, exclude)
        root = math.sqrt(c)
        feat = (patches.T.reshape(c, h, w) * root).contiguous()
        resid = ((patches - nearest).abs().T.reshape(c, h, w) * root).contiguous()
        fine = fine / fine.pow(2).mean().sqrt().clamp_min(1e-6)
        rgb = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA if size[0] < img.shape[0] else cv2.INTER_LINEAR)
        return ImageFeatures(
            image_shape=tuple(img.shape[:2]),
            size=size,
            rgb=torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0,
            feat=feat,
            resid=resid,
            dist=(dist / self.scale).reshape(1, h, w),
            fine=fine.contiguous(),
        )

    def _normal_scale(self, n: int = 12) -> float:
        """NORMAL_QUANTILE of leave-one-out patch distances of up to ``n`` normals."""
        if len(self) < 2:
            return FALLBACK_SCALE
        step = max(1, len(self) // n)
        dists = [self._nearest(self.patches[i], exclude=[i])[1] for i in range(0, len(self), step)[:n]]
        return max(float(torch.quantile(torch.cat(dists), NORMAL_QUANTILE)), 1e-4)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)
