import json

import pytest
import torch
from click_testutil import TEST_TEXT_DIM, one_thread, tiny_checkpoint  # noqa: F401 (one_thread: a fixture)

from defectlab.click.checkpoint import ClickConfig, load_checkpoint
from defectlab.click.model import ClickHead, HeadConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def _inputs(b=2, h=64, w=96, cfg=HeadConfig(raw_features=True)):
    return (
        torch.randn(b, cfg.feat_dim, h // 8, w // 8),
        torch.rand(b, cfg.feat_dim, h // 8, w // 8),
        torch.rand(b, 1, h // 8, w // 8),
        torch.randn(b, cfg.fine_dim, h // 4, w // 4),
        torch.rand(b, 3, h, w),
    )


@pytest.mark.parametrize("with_clicks", [True, False])
@pytest.mark.parametrize("with_prompt", [True, False])
def test_forward_shapes(with_clicks, with_prompt):
    head = ClickHead()
    clicks = torch.zeros(2, 3, 64, 96)
    clicks[0, 0, 10:20, 10:20] = 1
    clicks[1, 1, 30:40, 50:60] = 1
    prompt = torch.nn.functional.normalize(torch.randn(2, 384), dim=1) if with_prompt else None
    out = head(*_inputs(), clicks=clicks if with_clicks else None, prompt=prompt)
    assert out.shape == (2, 1, 64, 96) and torch.isfinite(out).all()


def test_zero_prompt_row_means_no_prompt():
    head = ClickHead()
    torch.nn.init.normal_(head.film[-1].weight)  # make the prompt matter
    inputs = _inputs(b=1)
    none = head(*inputs, prompt=None)
    zero = head(*inputs, prompt=torch.zeros(1, 384))
    some = head(*inputs, prompt=torch.nn.functional.normalize(torch.randn(1, 384), dim=1))
    assert torch.allclose(none, zero) and not torch.allclose(none, some)


def test_clicks_change_the_output_and_gradients_flow():
    head = ClickHead()
    inputs = _inputs(b=1)
    clicks = torch.zeros(1, 3, 64, 96)
    clicks[0, 0, 20:30, 20:30] = 1
    a = head(*inputs, clicks=clicks)
    b = head(*inputs)
    assert not torch.allclose(a, b)
    a.mean().backward()
    assert all(p.grad is not None for n, p in head.named_parameters() if not n.startswith(("null_prompt", "film")))


def test_checkpoint_round_trip(tmp_path):
    path = tiny_checkpoint(tmp_path / "ck" / "tiny.safetensors")
    assert path.is_file() and path.with_suffix(".json").is_file()
    head, config = load_checkpoint(path)
    assert config.head.text_dim == TEST_TEXT_DIM and config.head.dilations == (1, 2)
    assert config.text_encoder == "test-hash" and config.features.image_size == 96
    fresh, _ = load_checkpoint(path)
    for (k, v), (_, w) in zip(head.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(v, w), k
    assert not list(path.parent.glob(".*tmp"))  # atomic writes leave no temp files


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(tmp_path / "nope.safetensors")
    path = tiny_checkpoint(tmp_path / "t.safetensors")
    cfg = json.loads(path.with_suffix(".json").read_text())
    cfg["head"]["width"] = 32
    path.with_suffix(".json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(path)
    cfg["format_version"] = 99
    path.with_suffix(".json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="newer"):
        load_checkpoint(path)


def test_config_dict_round_trip():
    c = ClickConfig(head=HeadConfig(width=32, dilations=(1, 3)), text_encoder=None)
    assert ClickConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_residual_only_head_ignores_the_features():
    cfg = HeadConfig()
    assert not cfg.raw_features and HeadConfig.from_dict({}).raw_features  # old checkpoints saw the features
    head = ClickHead(cfg)
    feat, resid, dist, fine, rgb = _inputs(b=1, cfg=cfg)
    a = head(feat, resid, dist, fine, rgb)
    assert torch.equal(a, head(torch.randn_like(feat), resid, dist, fine, rgb))
    assert not torch.allclose(a, head(feat, torch.rand_like(resid), dist, fine, rgb))
    assert ClickConfig.from_dict(ClickConfig(head=cfg).to_dict()).head.raw_features is False


def test_growing_a_feature_input_keeps_the_output_and_lets_features_in():
    from defectlab.click.model import with_feature_input

    head = ClickHead(HeadConfig())
    torch.nn.init.normal_(head.fuse[0].weight)
    inputs = _inputs(b=1)
    grown = with_feature_input(head)
    assert grown.config.raw_features and with_feature_input(grown) is grown
    assert torch.allclose(head(*inputs), grown(*inputs), atol=1e-6)
    grown(*inputs).mean().backward()
    assert grown.fuse[0].weight.grad[:, : head.config.proj].abs().sum() > 0  # the features can now be learned
