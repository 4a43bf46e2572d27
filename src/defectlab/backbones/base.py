"""The one interface every backbone implements.

A backbone turns a batch of RGB images into a few feature maps ("layers"),
each with a known stride in input pixels. Detectors only ever see this
interface, so a new backbone is one file plus one registry line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from . import onnx_forward


@dataclass
class FeatureMaps:
    """Patch features of a batch: ``maps[name]`` is (B, C, h, w) at ``strides[name]``."""

    maps: dict[str, torch.Tensor]
    strides: dict[str, int]
    input_size: tuple[int, int]  # (H, W) of the tensor the backbone saw


class Backbone(torch.nn.Module):
    """Frozen feature extractor.

    Subclasses set ``name``, ``layers`` (names it can return, shallow to deep),
    ``default_layers``, ``mean``/``std`` (applied to [0, 1] RGB) and
    ``size_multiple`` (input sides are rounded to it), and implement
    :meth:`forward_layers`. ``onnx_runtime = True`` declares that
    :meth:`traceable` exports with the input's sides free, and lets the CPU
    forward run through ONNX Runtime (:mod:`.onnx_forward`).
    """

    name: str = "backbone"
    layers: tuple[str, ...] = ()
    default_layers: tuple[str, ...] = ()
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    size_multiple: int = 32
    onnx_runtime: bool = False

    def forward_layers(self, x: torch.Tensor, layers: tuple[str, ...]) -> FeatureMaps:
        raise NotImplementedError

    def traceable(self) -> torch.nn.Module:
        """A CPU module with this ``forward_layers`` that the ONNX tracer exports with H and W free.

        This backbone itself when it is on the CPU, else a CPU copy (never moved: a detector may be using it).
        """
        return self if self.device.type == "cpu" else copy.deepcopy(self).cpu()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to_tensor(self, images: list[np.ndarray] | np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """uint8 HxWx3 arrays -> normalised (B, 3, H, W) tensor at ``size`` (H, W).

        ``size`` is rounded to ``size_multiple`` so that feature maps tile the
        input exactly and strides stay exact.
        """
        size = round_size(size, self.size_multiple)
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        if len(images) == 0:
            raise ConfigError(f"backbone {self.name!r} was given no images; pass at least one HxWx3 uint8 array")
        batch = []
        for img in images:
            t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
            if tuple(t.shape[2:]) != size:
                # Resized as uint8: torch's channels-last uint8 kernel is about 3x faster than the float one
                # and differs from it only by the rounding of its output to 1/255.
                t = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True)
            batch.append(t[0])
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return torch.stack(batch).float().div_(255.0).sub_(mean).div_(std).to(self.device)

    @torch.inference_mode()
    def extract(
        self,
        images: list[np.ndarray] | np.ndarray,
        size: tuple[int, int],
        layers: tuple[str, ...] | None = None,
        precision: str = "fp32",
    ) -> FeatureMaps:
        """Feature maps for uint8 RGB images resized to ``size`` (H, W).

        ``precision``: "fp32", or "bf16" to run the forward under bfloat16
        autocast (see :data:`PRECISIONS`); the maps then come back as bfloat16
        tensors, which callers cast.
        """
        layers = tuple(layers or self.default_layers)
        unknown = [name for name in layers if name not in self.layers]
        if unknown:
            raise ConfigError(f"layers: backbone {self.name!r} has no layer(s) {unknown}; choose from {list(self.layers)}")
        check_precision(precision)
        x = self.to_tensor(images, size)
        if precision == "bf16":
            with torch.autocast(x.device.type, dtype=torch.bfloat16):
                return self.forward_layers(x, layers)
        computed = onnx_forward.forward(self, x, layers) if onnx_forward.applies(self, x, layers) else None
        if computed is not None:
            return FeatureMaps(*computed, input_size=(x.shape[-2], x.shape[-1]))
        return self.forward_layers(x, layers)


def round_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """Round (H, W) to the nearest positive multiple of ``multiple``."""
    return tuple(max(multiple, int(round(s / multiple)) * multiple) for s in size)  # type: ignore[return-value]


def patch_features(fmaps: FeatureMaps, stride: int | None = None, pool: int = 1) -> torch.Tensor:
    """Concatenate layers into one (B, C, h, w) map at the finest (or given) stride.

    ``pool`` > 1 averages each patch with its neighbours first (PatchCore's
    local neighbourhood aggregation): it makes a patch describe a small
    region rather than a single receptive-field centre, which is what texture
    defects need.
    """
    target = stride or min(fmaps.strides[n] for n in fmaps.maps)
    h, w = fmaps.input_size[0] // target, fmaps.input_size[1] // target
    parts = []
    for name, fmap in fmaps.maps.items():
        if pool > 1:
            # channels-last: the same sums, bit for bit, about 6x faster on the CPU (0.1 vs 0.6 ms for
            # EfficientNet-Lite0's 40 x 32 x 40 map), where it was a tenth of the time outside the forward
            fmap = F.avg_pool2d(fmap.contiguous(memory_format=torch.channels_last), pool, stride=1,
                                padding=pool // 2, count_include_pad=False)
        if fmap.shape[-2:] != (h, w):
            fmap = F.interpolate(fmap, size=(h, w), mode="bilinear", align_corners=False)
        parts.append(fmap)
    return torch.cat(parts, dim=1)


DEVICE_TYPES = ("cpu", "cuda", "mps")
# The backbone forward's arithmetic. fp32 is the default everywhere: bf16 is about 2.2x
# faster for a DINOv2-S forward on a CPU with native bf16 (1.1-1.4x for EfficientNet-Lite0)
# but cost EfficientNet-Lite0 0.77 image-AUROC points on battery_weld, past the 0.5 allowed
# (bench/results/detect_precision.md), and the ONNX export computes in fp32, which a
# bf16 model then no longer matches exactly.
PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU; "cpu", "cuda", "cuda:N" or "mps" when this machine has it.

    A device the machine lacks is refused here, by name, rather than by
    torch's first transfer (``AssertionError: Torch not compiled with CUDA
    enabled``, deep in a traceback).
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        resolved = None
    if resolved is None or resolved.type not in DEVICE_TYPES:
        raise ConfigError(f"device {device!r} is not one defectlab runs on; use auto, cpu, cuda, cuda:N or mps")
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = "was built without CUDA" if torch.version.cuda is None else "finds no CUDA GPU"
            raise ConfigError(f"device {device!r}: this machine has no usable GPU (torch {torch.__version__} "
                              f"{build}); use auto or cpu")
        if (resolved.index or 0) >= count:
            raise ConfigError(f"device {device!r}: this machine has {count} CUDA GPU(s), numbered 0 to {count - 1}")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r}: Apple's MPS is not available on this machine; use auto or cpu")
    return resolved
