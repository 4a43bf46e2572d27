"""oneDNN fp32 products: the same numbers as torch's, fallbacks where oneDNN does not apply."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from defectlab.backbones import onednn
from defectlab.backbones.knn import CosineIndex

pytestmark = pytest.mark.skipif(not onednn.available(), reason="this torch has no oneDNN")


def _linear(seed=0, bias=True):
    torch.manual_seed(seed)
    return torch.nn.Linear(24, 40, bias=bias).requires_grad_(False)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_on_3d_inputs(bias):
    dense = _linear(bias=bias)
    fast = onednn.OneDNNLinear(dense)
    x = torch.randn(2, 7, 24)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), dense(x), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace: what the ONNX exporter uses
def test_linear_falls_back_for_gradients_bf16_and_tracing():
    dense = _linear()
    fast = onednn.OneDNNLinear(dense)
    x = torch.randn(3, 24, requires_grad=True)
    fast(x).sum().backward()  # oneDNN's linear has no backward: F.linear ran
    assert x.grad is not None
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert fast(x).dtype == torch.bfloat16
    traced = torch.jit.trace(fast, torch.randn(3, 24))
    assert "mkldnn" not in str(traced.graph)


def test_swap_keeps_the_state_dict_and_copies():
    module = onednn.use_onednn_linears(torch.nn.Sequential(_linear(), torch.nn.ReLU(), torch.nn.Linear(40, 5)))
    assert all(type(m) is not torch.nn.Linear for m in module.modules())
    assert set(module.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    x = torch.randn(4, 24)
    with torch.no_grad():
        torch.testing.assert_close(copy.deepcopy(module)(x), module(x))
        module[0].weight.mul_(2)  # the layer reads its parameters on every call
        expected = F.linear(torch.relu(F.linear(x, module[0].weight, module[0].bias)), module[2].weight, module[2].bias)
        torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-5)


def test_nearest_row_search_equals_faiss():
    rng = np.random.default_rng(0)
    bank, queries = rng.normal(size=(500, 32)).astype(np.float32), rng.normal(size=(3000, 32)).astype(np.float32)
    fast, flat = CosineIndex(bank), CosineIndex(bank, backend="faiss")
    assert fast.onednn and not flat.onednn
    np.testing.assert_allclose(fast.distance(queries), flat.distance(queries), atol=1e-6)
    np.testing.assert_allclose(fast.distance(queries), flat.search(queries, 1)[0][:, 0], atol=1e-6)


def test_gelu_folded_into_the_layer_matches_torch():
    dense = _linear()
    fast = onednn.OneDNNLinear(dense, activation="gelu")
    x = torch.randn(2, 5, 24)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), F.gelu(dense(x)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast(x), F.gelu(dense(x)))  # the fallback (gradients on) applies it too


@pytest.mark.parametrize("registers", [False, True])
def test_dinov2_features_equal_torchs_own_layers(tmp_path, registers):
    transformers = pytest.importorskip("transformers")
    from defectlab.backbones import create_backbone

    torch.manual_seed(0)
    kw = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, patch_size=14, image_size=56)
    if registers:
        plain = transformers.Dinov2WithRegistersModel(transformers.Dinov2WithRegistersConfig(num_register_tokens=4, **kw))
    else:
        plain = transformers.Dinov2Model(transformers.Dinov2Config(**kw))
    plain.eval()
    plain.save_pretrained(tmp_path)
    backbone = create_backbone(str(tmp_path))
    assert any(isinstance(m, onednn.OneDNNLinear) and m.activation == "gelu" for m in backbone.modules())
    x = torch.randn(1, 3, 56, 70)
    with torch.inference_mode():
        ours = backbone.forward_layers(x, ("block2",)).maps["block2"]
        theirs = plain(pixel_values=x).last_hidden_state[:, 1 + 4 * registers :].transpose(1, 2).reshape(ours.shape)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
