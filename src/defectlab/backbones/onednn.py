"""fp32 matrix products through oneDNN on the CPU: ViT linear layers and the kNN search.

PyTorch's CPU wheels send a dense fp32 ``linear`` / ``matmul`` to MKL, which on
AMD processors takes a slow code path; oneDNN, bundled in the same wheel, runs
the same product 2-2.4x faster there (a DINOv2-S layer of 414 tokens, the
1,280 x 1,362 x 152 kNN search), in the same fp32 arithmetic: results differ
from MKL's in summation order only (about 1e-6). The call is the oneDNN linear
op that torch.compile's CPU backend emits (``torch.ops.mkldnn._linear_pointwise``,
dense tensors in and out); where it is missing, or for gradients, another
device or dtype (bf16 autocast) and tracing (ONNX export), ``F.linear`` runs.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F


def _pointwise():
    try:
        return torch.ops.mkldnn._linear_pointwise if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):  # a torch built without it
        return None


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether the oneDNN linear op exists here and runs (tried once on a tiny product)."""
    op = _pointwise()
    if op is None:
        return False
    try:
        op(torch.ones(2, 3), torch.ones(4, 3), None, "none", [], "")
    except RuntimeError:  # present but not for this CPU
        return False
    return True


ACTIVATIONS = {"none": lambda x: x, "gelu": F.gelu}  # gelu: the exact (erf) form, as oneDNN's


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           activation: str = "none") -> torch.Tensor:
    """``activation(F.linear(x, weight, bias))`` for fp32 CPU tensors without gradients, through oneDNN."""
    return _pointwise()(x.contiguous(), weight, bias, activation, [], "none" if activation == "gelu" else "")


class OneDNNLinear(torch.nn.Module):
    """A frozen ``nn.Linear`` (and the activation after it) whose CPU fp32 inference runs through oneDNN.

    Same parameters, same state dict; ``activation`` "gelu" folds the GELU that
    followed the layer into the product (one pass over the output instead of two).
    """

    def __init__(self, dense: torch.nn.Linear, activation: str = "none"):
        super().__init__()
        self.weight, self.bias, self.activation = dense.weight, dense.bias, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._applies(x):
            return linear(x, self.weight, self.bias, self.activation)
        return ACTIVATIONS[self.activation](F.linear(x, self.weight, self.bias))

    def _applies(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dtype == torch.float32 and self.weight.dtype == torch.float32
                and not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")
                and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export() and available())

    # nn.Linear's attributes, which model code sometimes reads
    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, activation={self.activation}")


def use_onednn_linears(module: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``nn.Linear`` inside ``module`` for a :class:`OneDNNLinear` sharing its parameters (in place)."""
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if type(child) is torch.nn.Linear:
                setattr(parent, name, OneDNNLinear(child))
    return module


@torch.inference_mode()
def max_inner_products(queries: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """(M,) largest inner product of each query (M, D) with ``rows`` (N, D): the exact nearest-row search.

    fp32 CPU tensors go through oneDNN; any other (a GPU bank) through ``F.linear``.
    """
    # Queries in chunks keep the similarity block near 64 MB whatever the bank size.
    chunk = max(1, (1 << 24) // len(rows))
    cpu = rows.device.type == "cpu" and rows.dtype == torch.float32
    product = linear if cpu and available() else F.linear
    return torch.cat([product(part, rows).amax(1) for part in queries.split(chunk)])
