"""The backbone forward through ONNX Runtime gives torch's features, and torch takes over wherever it does not apply."""

import numpy as np
import pytest
import torch

from defectlab.backbones import create_backbone, onnx_forward
from defectlab.backbones.base import Backbone, FeatureMaps
from defectlab.backbones.factory import cached_backbone
from defectlab.errors import ConfigError

transformers = pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")


def _images(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, shape + (3,), dtype=np.uint8) for _ in range(n)]


def _both(net, monkeypatch, images, size, layers=None):
    monkeypatch.setenv(onnx_forward.ENV, "torch")
    ref = net.extract(images, size, layers)
    monkeypatch.setenv(onnx_forward.ENV, "auto")
    return ref, net.extract(images, size, layers)


def _assert_same(ref: FeatureMaps, got: FeatureMaps):
    assert got.strides == ref.strides and got.input_size == ref.input_size
    assert list(got.maps) == list(ref.maps)
    for name, want in ref.maps.items():
        assert got.maps[name].shape == want.shape and got.maps[name].dtype == torch.float32
        assert float((got.maps[name] - want).abs().max()) <= 1e-4 * float(want.abs().max())


def _counting_forward(monkeypatch):
    calls = []
    inner = onnx_forward.forward
    monkeypatch.setattr(onnx_forward, "forward", lambda *a: calls.append(1) or inner(*a))
    return calls


def test_efficientnet_features_match_torch_at_free_sizes_and_batches(monkeypatch):
    net = cached_backbone("efficientnet-lite0")
    calls = _counting_forward(monkeypatch)
    # one export (4 x 6 multiples of 32) serves every size: tall, wide, a batch of two
    for n, shape, size in [(1, (300, 200), (320, 224)), (2, (150, 260), (160, 288))]:
        ref, got = _both(net, monkeypatch, _images(n, shape), size)
        _assert_same(ref, got)
    assert len(calls) == 2


def test_dinov2_features_match_torch_with_position_embeddings_interpolated(tmp_path, monkeypatch):
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, patch_size=14, image_size=56)
    transformers.Dinov2Model(config).save_pretrained(tmp_path / "tiny")
    net = create_backbone(str(tmp_path / "tiny"))
    calls = _counting_forward(monkeypatch)
    for size in [(56, 84), (98, 42)]:
        ref, got = _both(net, monkeypatch, _images(2, (100, 100)), size, ("block1", "block2"))
        _assert_same(ref, got)
    assert len(calls) == 2


def test_torch_runs_where_onnx_runtime_does_not_apply(monkeypatch):
    net = cached_backbone("efficientnet-lite0")
    calls = _counting_forward(monkeypatch)
    image = _images(1, (64, 64))
    monkeypatch.setenv(onnx_forward.ENV, "torch")
    net.extract(image, (64, 64))
    monkeypatch.setenv(onnx_forward.ENV, "auto")
    net.extract(image, (64, 64), precision="bf16")
    assert calls == []
    monkeypatch.setenv(onnx_forward.ENV, "fast")
    with pytest.raises(ConfigError, match="DEFECTLAB_RUNTIME='fast'"):
        net.extract(image, (64, 64))


class _Untraceable(Backbone):
    """Opts in, but its forward cannot be traced (as an op without an ONNX form would)."""

    name = "untraceable"
    layers = default_layers = ("only",)
    size_multiple = 8
    onnx_runtime = True

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1), requires_grad=False)
        self.forwards = 0

    def forward_layers(self, x, layers):
        if torch.jit.is_tracing():
            raise RuntimeError("this forward has no ONNX form")
        self.forwards += 1
        pooled = x[:, :, ::8, ::8] * self.scale
        return FeatureMaps({"only": pooled}, {"only": 8}, (x.shape[-2], x.shape[-1]))


def test_a_backbone_that_does_not_export_warns_once_and_stays_in_torch(monkeypatch):
    monkeypatch.setenv(onnx_forward.ENV, "auto")
    net = _Untraceable()
    image = _images(1, (32, 48))
    with pytest.warns(RuntimeWarning, match="'untraceable' did not export to ONNX.*stays in torch"):
        first = net.extract(image, (32, 48))
    net.forwards = 0
    second = net.extract(image, (32, 48))  # no second attempt, no second warning
    assert net.forwards == 1
    assert torch.equal(first.maps["only"], second.maps["only"])


def test_a_backbone_that_has_not_opted_in_is_never_exported(monkeypatch):
    monkeypatch.setenv(onnx_forward.ENV, "auto")
    net = _Untraceable()
    net.onnx_runtime = False
    calls = _counting_forward(monkeypatch)
    net.extract(_images(1, (16, 16)), (16, 16))
    assert calls == [] and net.forwards == 1


def _tiny_dinov2(path, seed):
    torch.manual_seed(seed)
    config = transformers.Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, patch_size=14, image_size=28)
    transformers.Dinov2Model(config).save_pretrained(path)
    return str(path)


def test_an_exported_graph_is_cached_by_its_weights_and_a_damaged_file_is_exported_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(onnx_forward.ENV, "auto")
    exports = []
    inner = onnx_forward._export
    monkeypatch.setattr(onnx_forward, "_export", lambda *a: exports.append(1) or inner(*a))
    image = _images(1, (40, 40))
    first = create_backbone(_tiny_dinov2(tmp_path / "a", seed=0))
    want = first.extract(image, (28, 28)).maps["block1"]
    again = create_backbone(_tiny_dinov2(tmp_path / "a2", seed=0))  # same weights, another instance
    assert torch.equal(again.extract(image, (28, 28)).maps["block1"], want)
    assert len(exports) == 1
    cached = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert len(cached) == 1
    other = create_backbone(_tiny_dinov2(tmp_path / "b", seed=1))  # other weights: their own graph
    assert not torch.allclose(other.extract(image, (28, 28)).maps["block1"], want)
    assert len(exports) == 2
    cached[0].write_bytes(b"not a graph")
    third = create_backbone(_tiny_dinov2(tmp_path / "a3", seed=0))
    assert torch.equal(third.extract(image, (28, 28)).maps["block1"], want)
    assert len(exports) == 3


def test_a_cache_folder_that_cannot_be_written_only_costs_the_export(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DEFECTLAB_CACHE", str(blocker))
    monkeypatch.setenv(onnx_forward.ENV, "auto")
    net = create_backbone(_tiny_dinov2(tmp_path / "m", seed=2))
    calls = _counting_forward(monkeypatch)
    ref, got = _both(net, monkeypatch, _images(1, (40, 40)), (28, 28))
    _assert_same(ref, got)
    assert calls == [1]
