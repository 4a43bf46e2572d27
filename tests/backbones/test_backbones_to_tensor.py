"""The backbone's input: photos resized as uint8 match the float filter but for rounding to 1/255."""

import numpy as np
import torch
import torch.nn.functional as F

from defectlab.backbones import create_backbone


def test_uint8_resize_is_the_float_filter_rounded_and_normalised():
    backbone = create_backbone("efficientnet-lite0")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (121, 203, 3), dtype=np.uint8)
    for size in ((64, 96), (256, 416)):  # down and up
        x = backbone.to_tensor([image, image], size)
        float_path = F.interpolate(torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255, size=size,
                                   mode="bilinear", align_corners=False, antialias=True)
        mean, std = torch.tensor(backbone.mean).view(1, 3, 1, 1), torch.tensor(backbone.std).view(1, 3, 1, 1)
        unnormalised = x * std + mean
        assert x.shape == (2, 3, *size) and x.dtype == torch.float32
        assert float((unnormalised - float_path).abs().max()) <= 1 / 255 + 1e-6
    m = backbone.size_multiple
    assert backbone.to_tensor(image, (121, 203)).shape[2:] == (round(121 / m) * m, round(203 / m) * m)
