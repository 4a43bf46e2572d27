"""A few training steps on a tiny generated MVTec-layout folder (no convergence, just the loop)."""

import json

import numpy as np
import pytest
import torch

from click_testutil import TEST_TEXT_DIM, make_mvtec, one_thread  # noqa: F401 (one_thread: a fixture)
from defectlab.click.checkpoint import load_checkpoint
from defectlab.click.model import ClickHead, HeadConfig
from defectlab.click.residual import FeatureSettings
from defectlab.click.train import TrainConfig, mask_loss, simulate_clicks, split_real, train
from defectlab.data import get_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


def test_tiny_training_run_writes_a_loadable_checkpoint(tmp_path):
    root = make_mvtec(tmp_path / "data")
    cfg = TrainConfig(
        dataset="mvtec-ad", root=str(root), category="tile", train_types=("blob",), n_normals=2, n_synthetic=2,
        iterations=3, batch_size=2, crop=64, cache_dir=str(tmp_path / "cache"), text_encoder="test-hash",
        head=HeadConfig(text_dim=TEST_TEXT_DIM, proj=8, width=16, key_dim=8, fine_width=8, dilations=(1, 2)),
        features=FeatureSettings(image_size=96, max_side=128), val_every=2, progress=False,
    )  # fmt: skip
    path = train(cfg, tmp_path / "out" / "m.safetensors")
    head, config = load_checkpoint(path)
    assert config.training["iterations"] == 3 and config.training["n_synthetic"] == 2
    assert config.training["n_real"] == 1 and "mIoU@1" in config.training["val_miou"]
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3
    # a second run reuses the cached features
    again = train(cfg, tmp_path / "out" / "m2.safetensors")
    assert json.loads(again.with_suffix(".json").read_text())["training"]["n_real"] == 1


def test_split_real_holds_back_every_nth_defective_image_of_the_types(tmp_path):
    ds = get_dataset("mvtec-ad", str(make_mvtec(tmp_path / "data")), "tile")
    all_blobs = [s for s in ds.test_samples() if s.label == 1 and s.anomaly_type == "blob"]
    train_part, val = split_real(ds, ("blob",), 2)
    assert val == all_blobs[::2] and train_part == [s for s in all_blobs if s not in val]
    assert split_real(ds, ("blob",)) == (all_blobs, [])


def test_unknown_train_type_is_refused(tmp_path):
    root = make_mvtec(tmp_path / "data")
    cfg = TrainConfig(dataset="mvtec-ad", root=str(root), category="tile", train_types=("crack",), progress=False)
    with pytest.raises(ValueError, match="crack"):
        train(cfg, tmp_path / "m.safetensors")


def test_click_simulation_adds_rounds_and_loss_is_finite():
    torch.manual_seed(0)
    head = ClickHead(HeadConfig(text_dim=8, proj=8, width=16, key_dim=8, fine_width=8, dilations=(1,)))
    b, h, w = 3, 32, 48
    static = head.encode(torch.randn(b, 152, 4, 6), torch.rand(b, 152, 4, 6), torch.rand(b, 1, 4, 6), torch.randn(b, 24, 8, 12), torch.rand(b, 3, h, w))
    targets = np.zeros((b, h, w), bool)
    targets[:, 8:20, 10:30] = True
    valid = np.ones_like(targets)
    cfg = TrainConfig(max_rounds=2, no_click_fraction=0.0)
    clicks = simulate_clicks(head, static, targets, valid, None, np.random.default_rng(0), cfg)
    assert clicks.shape == (b, 3, h, w)
    assert (clicks[:, 0].flatten(1).sum(1) > 0).all()  # every sample got a positive click
    logits = head.decode(static, clicks)
    loss = mask_loss(logits, torch.from_numpy(targets).float(), torch.ones(b, h, w))
    assert torch.isfinite(loss) and loss.requires_grad
