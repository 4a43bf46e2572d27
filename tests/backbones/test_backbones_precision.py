"""The backbone forward's precision: bf16 on request, float32 features either way."""

import numpy as np
import pytest
import torch

from defectlab.backbones import create_backbone
from defectlab.backbones.embedder import PatchEmbedder
from defectlab.backbones.resize import Resizer
from defectlab.detect import PatchKNNDetector, load_detector
from defectlab.errors import ConfigError

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_dinov2(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, patch_size=14, image_size=56)
    path = tmp_path_factory.mktemp("dinov2") / "tiny"
    transformers.Dinov2Model(config).save_pretrained(path)
    return str(path)


def _images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (84, 112, 3), dtype=np.uint8) for _ in range(n)]


def test_unknown_precision_is_refused_by_name(tiny_dinov2):
    image = _images(1)[0]
    with pytest.raises(ConfigError, match="precision.*'fp16'"):
        create_backbone(tiny_dinov2).extract([image], (56, 56), None, "fp16")
    with pytest.raises(ConfigError, match="precision.*'half'"):
        PatchEmbedder(tiny_dinov2, precision="half")


def test_bf16_features_are_float32_and_close_to_fp32(tiny_dinov2):
    images = _images()
    resizer = Resizer("auto", 70).fit([im.shape[:2] for im in images])
    feats = {p: PatchEmbedder(tiny_dinov2, precision=p).embed_numpy(images, resizer) for p in ("fp32", "bf16")}
    for a, b in zip(feats["fp32"], feats["bf16"]):
        assert b.dtype == np.float32 and a.shape == b.shape
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        assert cos.min() > 0.99
        assert not np.array_equal(a, b)  # bf16 did run


def test_precision_is_saved_with_the_model(tiny_dinov2, tmp_path):
    images = _images(5)
    det = PatchKNNDetector(tiny_dinov2, image_size=70, precision="bf16", progress=False).fit(images[:3])
    det.save(tmp_path / "m")
    back = load_detector(tmp_path / "m")
    assert back.precision == "bf16"
    assert [p.score for p in back.predict(images[3:])] == [p.score for p in det.predict(images[3:])]
