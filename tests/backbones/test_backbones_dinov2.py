"""DINOv2 through the exact loading path a user takes, with tiny random weights."""

import numpy as np
import pytest

from defectlab.backbones import create_backbone

transformers = pytest.importorskip("transformers")


def _tiny(tmp_path, registers: bool):
    kw = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
              patch_size=14, image_size=56)
    if registers:
        config = transformers.Dinov2WithRegistersConfig(num_register_tokens=4, **kw)
        model = transformers.Dinov2WithRegistersModel(config)
    else:
        model = transformers.Dinov2Model(transformers.Dinov2Config(**kw))
    path = tmp_path / ("reg" if registers else "plain")
    model.save_pretrained(path)
    return path


@pytest.mark.parametrize("registers", [False, True])
def test_dinov2_from_local_dir(tmp_path, registers):
    net = create_backbone(str(_tiny(tmp_path, registers)))
    assert net.num_prefix_tokens == (5 if registers else 1)
    assert net.layers == ("block1", "block2")
    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    fm = net.extract([image], size=(60, 90))  # rounded to multiples of 14
    assert fm.input_size == (56, 84)
    assert fm.maps["block2"].shape == (1, 32, 4, 6)
    assert fm.strides["block2"] == 14
    both = net.extract([image], size=(56, 84), layers=("block1", "block2"))
    assert both.maps["block1"].shape == both.maps["block2"].shape
