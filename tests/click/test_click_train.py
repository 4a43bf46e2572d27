"""A few training steps on a tiny generated MVTec-layout folder (no convergence, just the loop)."""

import json

import numpy as np
import pytest
import torch
from click_testutil import TEST_TEXT_DIM, make_mvtec, one_thread  # noqa: F401 (one_thread: a fixture)

from defectlab.click import ClickSession, next_click
from defectlab.click.checkpoint import load_checkpoint
from defectlab.click.model import ClickHead, HeadConfig
from defectlab.click.residual import FeatureSettings
from defectlab.click.train import TrainConfig, mask_loss, simulate_clicks, split_real, train
from defectlab.data import get_dataset, load_gt_mask

pytestmark = pytest.mark.usefixtures("one_thread")


def _iou_after_one_click(model, reference, samples):
    """A stand-in for the evaluation's scorer: IoU after one simulated click on each held-back image."""
    ious = []
    for s in samples:
        gt = load_gt_mask(s)
        session = ClickSession(s.image_path, reference, model=model)
        click = next_click(gt, session.mask)
        mask = session.add_click(click.x, click.y, click.positive)
        ious.append((mask & gt).sum() / max(1, (mask | gt).sum()))
    return {"mIoU@1": round(float(np.mean(ious)), 4)}


def test_tiny_training_run_writes_a_loadable_checkpoint(tmp_path):
    root = make_mvtec(tmp_path / "data")
    cfg = TrainConfig(
        dataset="mvtec-ad", root=str(root), category="tile", train_types=("blob",), n_normals=2, n_synthetic=2,
        iterations=3, batch_size=2, crop=64, cache_dir=str(tmp_path / "cache"), text_encoder="test-hash",
        head=HeadConfig(text_dim=TEST_TEXT_DIM, proj=8, width=16, key_dim=8, fine_width=8, dilations=(1, 2)),
        features=FeatureSettings(image_size=96, max_side=128), val_every=2, progress=False,
    )  # fmt: skip
    calls = []

    def validate(model, reference, samples):
        calls.append((model, reference, samples))
        return _iou_after_one_click(model, reference, samples)

    path = train(cfg, tmp_path / "out" / "m.safetensors", validate=validate)
    head, config = load_checkpoint(path)
    assert config.training["iterations"] == 3 and config.training["n_synthetic"] == 2
    assert config.training["n_real"] == 1 and "mIoU@1" in config.training["val_miou"]
    (model, reference, samples), = calls
    assert model.config.features == cfg.features and len(reference) == 2
    assert samples == split_real(get_dataset("mvtec-ad", str(root), "tile"), ("blob",), 2)[1]
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3
    # a second run reuses the cached features; without validate the image is still held back, unscored
    again = train(cfg, tmp_path / "out" / "m2.safetensors")
    training = json.loads(again.with_suffix(".json").read_text())["training"]
    assert training["n_real"] == 1 and "val_miou" not in training


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


def test_training_across_products_keeps_each_products_evaluation_images_out(tmp_path):
    from defectlab.click.products import Product, product_split, select_products

    root = make_mvtec(tmp_path / "data", "tile")
    make_mvtec(tmp_path / "data", "wood")
    make_mvtec(tmp_path / "data", "felt")
    products = tuple(Product(c, "mvtec-ad", str(root), c) for c in ("tile", "wood", "felt"))
    kept = tuple(select_products(products, exclude=("felt",)))  # leave-one-product-out is one argument
    assert [p.name for p in kept] == ["tile", "wood"]
    with pytest.raises(ValueError, match="glass"):
        select_products(products, exclude=("glass",))
    cfg = TrainConfig(
        products=kept, n_normals=2, n_synthetic=1, n_eval=1, iterations=2, batch_size=2, crop=64,
        cache_dir=str(tmp_path / "cache"), text_encoder="test-hash", val_per_product=1,
        head=HeadConfig(text_dim=TEST_TEXT_DIM, proj=8, width=16, key_dim=8, fine_width=8, dilations=(1, 2)),
        features=FeatureSettings(image_size=96, max_side=128), progress=False,
    )  # fmt: skip
    seen = []
    path = train(cfg, tmp_path / "m.safetensors", validate=lambda m, r, s: seen.append(s) or _iou_after_one_click(m, r, s))
    training = json.loads(path.with_suffix(".json").read_text())["training"]
    assert training["products"] == ["tile", "wood"] and set(training["val_miou"]) == {"tile", "wood"}
    assert training["per_product"]["tile"] == {"n_normals": 2, "n_real": 1, "n_synthetic": 1}
    # each product's evaluation draw (one of its two defective images) is what validation saw, never a training image
    for p, samples in zip(kept, seen):
        train_part, held = product_split(p.load(), n_eval=1)
        assert samples == held and not set(held) & set(train_part)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 4  # 2 products x (1 real + 1 synthetic)


def test_click_train_products_flags_name_what_is_wrong(tmp_path, capsys):
    from defectlab.cli import main

    out = str(tmp_path / "m.safetensors")
    assert main(["click-train", "--products", "all", "--out", out]) == 2
    assert "--data-root" in capsys.readouterr().err
    assert main(["click-train", "--root", str(tmp_path), "--exclude", "commutator", "--out", out]) == 2
    assert "--products" in capsys.readouterr().err
    assert main(["click-train", "--products", "glass", "--data-root", str(tmp_path), "--out", out]) == 2
    assert "glass" in capsys.readouterr().err


def test_mask_loss_ignores_zero_weight_pixels_on_both_sides_of_dice():
    target = torch.zeros(1, 8, 8)
    target[:, 2:6, 2:6] = 1
    logits = torch.where(target > 0, 4.0, -4.0)[:, None]
    wrong = logits.clone()
    wrong[:, :, 2, 2:6] = -4.0  # the label's first row predicted background
    valid = torch.ones(1, 8, 8)
    assert mask_loss(wrong, target, valid) > mask_loss(logits, target, valid) + 0.05
    valid[:, 2, :] = 0  # that row left out: the loss is as if it were right
    assert torch.isclose(mask_loss(wrong, target, valid), mask_loss(logits, target, valid))
