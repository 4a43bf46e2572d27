import numpy as np
import pytest
import torch
from click_testutil import one_thread, texture, with_blob  # noqa: F401 (one_thread: a fixture)

from defectlab.click.residual import FeatureSettings, ImageFeatures, NormalReference
from defectlab.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(1)
    settings = FeatureSettings(image_size=96, max_side=128, top_k=2)
    return NormalReference([texture(rng) for _ in range(4)], settings, progress=False)


def test_pasted_anomaly_has_larger_residual(reference):
    rng = np.random.default_rng(7)
    image, mask = with_blob(texture(rng), (48, 48), 12)
    f = reference.features(image)
    assert f.size == (96, 96) and f.image_shape == (96, 96)
    assert f.feat.shape == (152, 12, 12) and f.resid.shape == (152, 12, 12) and f.fine.shape == (24, 24, 24)
    cells = torch.zeros(12, 12, dtype=torch.bool)
    cells[5:7, 5:7] = True  # the blob's centre cells
    dist = f.dist[0]
    assert dist[cells].mean() > 2 * dist[~cells].mean()
    resid = f.resid.norm(dim=0)
    assert resid[cells].mean() > 1.5 * resid[~cells].mean()
    amap = f.anomaly_map()
    assert amap.shape == (96, 96) and amap.dtype == np.float32
    assert amap[mask].mean() > 2 * amap[~mask].mean()


def test_normal_scale_and_exclusion(reference):
    assert 0 < reference.scale < 1
    # A reference image compared with itself has zero distance; excluding it does not.
    rng = np.random.default_rng(1)
    first = texture(rng)
    assert reference.features(first).dist.max() < 1e-3
    assert reference.features(first, exclude=[0]).dist.max() > 1e-3


def test_features_round_trip_through_cache_tensors(reference):
    f = reference.features(texture(np.random.default_rng(3), 80, 112))
    g = ImageFeatures.from_tensors(f.tensors())
    assert g.size == f.size and g.image_shape == (80, 112)
    assert torch.allclose(g.resid, f.resid, atol=1e-2) and torch.allclose(g.rgb, f.rgb, atol=1 / 255)


def test_reference_rejects_bad_input(reference):
    with pytest.raises(ConfigError, match="non-empty"):
        NormalReference([])
    with pytest.raises(ConfigError, match="top_k"):
        NormalReference([texture(np.random.default_rng(0))], FeatureSettings(top_k=0))
    with pytest.raises(ConfigError, match="exclude"):
        reference.features(texture(np.random.default_rng(0)), exclude=range(4))
