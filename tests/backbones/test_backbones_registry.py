import numpy as np
import pytest
import torch

from defectlab.backbones import ModelNotFoundError, create_backbone, list_backbones, patch_features, round_size
from defectlab.backbones.efficientnet_lite import EfficientNetLite0
from defectlab.backbones.loading import explained_import
from defectlab.errors import ConfigError
from defectlab.registry import Registry, UnknownNameError


def test_registry_lists_offline_default_and_dinov2_family():
    names = list_backbones()
    assert "efficientnet-lite0" in names
    assert {"dinov2-small", "dinov2-base", "dinov2-large", "dinov2-giant", "dinov2-reg-small"} <= set(names)


def test_unknown_name_error_lists_choices():
    with pytest.raises(ValueError, match="efficientnet-lite0"):
        create_backbone("resnet-9000")


def test_create_or_prefers_the_registered_name_then_asks_the_fallback():
    parts: Registry[str] = Registry("part")
    parts.register("b", lambda: "registered b")
    parts.register("a", lambda: "registered a")
    fallback = {"b": "fallback b", "x/y": "loaded x/y"}.get
    assert parts.create_or("b", fallback, "or a path") == "registered b"
    assert parts.create_or("x/y", fallback, "or a path") == "loaded x/y"
    with pytest.raises(UnknownNameError, match="^unknown part 'z'; choose one of a, b, or a path$"):
        parts.create_or("z", fallback, "or a path")


def test_missing_local_model_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelNotFoundError, match="hf download"):
        create_backbone(str(tmp_path / "no-such-model"))


def test_hub_id_without_network_fails_fast_with_the_ways_out(monkeypatch):
    import time

    import huggingface_hub

    def no_network(*args, **kwargs):
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", no_network)
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as err:
        create_backbone("someone/not-cached-dinov2")
    message = str(err.value)
    assert "cannot be reached" in message and "hf download someone/not-cached-dinov2" in message
    assert "snapshot_download('someone/not-cached-dinov2'" in message and "save_pretrained" in message
    assert time.perf_counter() - start < 10  # no retry storm (transformers alone retries for 30 s and more)


def test_hf_hub_offline_is_respected_without_asking_the_hub(monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "model_info", lambda *a, **k: pytest.fail("the hub was asked"))
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE is set"):
        create_backbone("someone/not-cached-dinov2")


def test_a_missing_package_says_how_to_install_it():
    with pytest.raises(ImportError, match="^X needs 'no-such-pkg'; pip install no-such-pkg$") as caught:
        with explained_import("X needs 'no-such-pkg'; pip install no-such-pkg"):
            import no_such_pkg  # noqa: F401
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)
    with explained_import("not raised: the import works"):
        import json  # noqa: F401


def test_round_size():
    assert round_size((100, 330), 32) == (96, 320)
    assert round_size((5, 5), 14) == (14, 14)


def test_efficientnet_lite0_loads_real_weights_and_gives_strided_maps():
    net = create_backbone("efficientnet-lite0")
    # The weights are ImageNet's: BN running stats are far from the init values.
    assert not torch.allclose(EfficientNetLite0(fold_batch_norm=False)._bn0.running_var, torch.ones(32))
    image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    fm = net.extract([image, image], size=(128, 192), layers=("stage2", "stage3", "stage5"))
    assert fm.maps["stage2"].shape == (2, 24, 32, 48)
    assert fm.maps["stage3"].shape == (2, 40, 16, 24)
    assert fm.maps["stage5"].shape == (2, 112, 8, 12)
    assert fm.strides == {"stage2": 4, "stage3": 8, "stage5": 16}
    feats = patch_features(fm, pool=3)
    assert feats.shape == (2, 24 + 40 + 112, 32, 48)
    assert torch.allclose(feats[0], feats[1])


def test_efficientnet_rejects_unknown_layer():
    net = create_backbone("efficientnet-lite0")
    with pytest.raises(ValueError, match="stage3"):
        net.extract(np.zeros((64, 64, 3), np.uint8), (64, 64), layers=("block9",))


def test_efficientnet_features_separate_textures():
    """A pretrained net maps two crops of one texture closer than two different textures."""
    rng = np.random.default_rng(0)
    stripes = np.tile(((np.arange(128) // 4) % 2 * 255).astype(np.uint8)[None, :, None], (128, 1, 3))
    noise = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    net = create_backbone("efficientnet-lite0")
    f = patch_features(net.extract([stripes, stripes[:, 8:].copy(), noise], (128, 128))).mean((2, 3))
    f = torch.nn.functional.normalize(f, dim=1)
    assert (f[0] @ f[1]) > (f[0] @ f[2])


def test_folding_the_batch_norms_keeps_the_features():
    folded, plain = EfficientNetLite0(), EfficientNetLite0(fold_batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    image = np.random.default_rng(1).integers(0, 255, (150, 230, 3), dtype=np.uint8)
    a = folded.extract(image, size=(128, 192), layers=folded.layers).maps
    b = plain.extract(image, size=(128, 192), layers=plain.layers).maps
    for name in plain.layers:  # float rounding only: 1e-5 of each map's range
        assert torch.allclose(a[name], b[name], rtol=0, atol=1e-5 * float(b[name].abs().max())), name


def test_no_images_is_a_clear_error():
    with pytest.raises(ConfigError, match="no images"):
        create_backbone("efficientnet-lite0").extract([], size=(64, 64))
