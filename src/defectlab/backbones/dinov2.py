"""DINOv2 (with or without registers) through transformers.

Loaded with ``from_pretrained`` from a hub id or a local directory, exactly
the path a user takes; tests drive it with a tiny random config saved to a
temp dir. Patch tokens are returned as (B, C, h, w) maps at stride 14.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .base import Backbone, FeatureMaps
from .loading import from_pretrained
from .onednn import OneDNNLinear, use_onednn_linears
from .registry import BACKBONES

HUB_IDS = {
    "dinov2-small": "facebook/dinov2-small",
    "dinov2-base": "facebook/dinov2-base",
    "dinov2-large": "facebook/dinov2-large",
    "dinov2-giant": "facebook/dinov2-giant",
    "dinov2-reg-small": "facebook/dinov2-with-registers-small",
    "dinov2-reg-base": "facebook/dinov2-with-registers-base",
    "dinov2-reg-large": "facebook/dinov2-with-registers-large",
    "dinov2-reg-giant": "facebook/dinov2-with-registers-giant",
}


class DINOv2(Backbone):
    # ImageNet statistics, as DINOv2 was trained with them.
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(self, model_id: str = "facebook/dinov2-small", name: str | None = None):
        super().__init__()
        from transformers import AutoConfig

        config = from_pretrained(AutoConfig, model_id)
        with_registers = getattr(config, "num_register_tokens", 0) > 0 or "register" in config.model_type
        if with_registers:
            from transformers import Dinov2WithRegistersModel as Model
        else:
            from transformers import Dinov2Model as Model
        # transformers' DINOv2 traces with its sides free (the position embeddings interpolate in the graph);
        # the register variant interpolates them with antialiasing, an op ONNX opset 17 does not have.
        self.onnx_runtime = not with_registers
        self.model = _fast_cpu_linears(from_pretrained(Model, model_id).eval().requires_grad_(False))
        self.name = name or str(model_id)
        self.size_multiple = config.patch_size
        self.num_prefix_tokens = 1 + getattr(config, "num_register_tokens", 0)
        n = config.num_hidden_layers
        self.layers = tuple(f"block{i}" for i in range(1, n + 1))
        # The last block's tokens are what AnomalyDINO matches; a middle block
        # adds lower-level detail for small defects.
        self.default_layers = (f"block{n}",)

    def forward_layers(self, x: torch.Tensor, layers: tuple[str, ...]) -> FeatureMaps:
        out = self.model(pixel_values=x, output_hidden_states=True)
        h, w = x.shape[-2] // self.size_multiple, x.shape[-1] // self.size_multiple
        maps = {}
        for name in layers:
            idx = self.layers.index(name) + 1  # hidden_states[0] is the embedding output
            tokens = out.hidden_states[idx]
            if idx == len(self.layers):
                tokens = out.last_hidden_state  # layer-normed, as the model publishes it
            patches = tokens[:, self.num_prefix_tokens :, :]
            maps[name] = patches.transpose(1, 2).reshape(x.shape[0], -1, h, w)
        return FeatureMaps(
            maps=maps,
            strides={name: self.size_multiple for name in layers},
            input_size=(x.shape[-2], x.shape[-1]),
        )


def _fast_cpu_linears(model: torch.nn.Module) -> torch.nn.Module:
    """Linear layers through oneDNN (faster where MKL is slow, see backbones.onednn), each MLP's GELU folded into its first."""
    from transformers.activations import GELUActivation

    for mlp in model.modules():
        act, fc1 = getattr(mlp, "activation_fn", None), getattr(mlp, "fc1", None)
        if type(act) is GELUActivation and act.act is F.gelu and type(fc1) is torch.nn.Linear:
            mlp.fc1, mlp.activation_fn = OneDNNLinear(fc1, activation="gelu"), torch.nn.Identity()
    return use_onednn_linears(model)


for _short, _hub_id in HUB_IDS.items():
    BACKBONES.register(_short, partial(DINOv2, _hub_id, name=_short))
