"""The label -> seg-train -> detect loop on generated images, through the commands a user runs.

A folder as `defectlab label` writes it (test/<type>/, ground_truth/<type>/<name>_mask.png) plus
the user's train/good; seg-train with tiny settings from a tiny head; detect --method adclick-seg
--save-maps; the saved maps must find the pasted defect. Seconds, on one thread.
"""

import csv
import json

import numpy as np
import pytest
from click_testutil import one_thread, texture, tiny_checkpoint, with_blob  # noqa: F401 (one_thread: a fixture)
from PIL import Image

from defectlab.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = ["--iterations", "60", "--batch-size", "4", "--crop", "64", "--synthetic", "6", "--normals", "4",
        "--negatives", "4", "--lr", "0.003", "--no-progress"]


def label_folder(root, rng, n_train=6, n_labelled=4, size=96):
    """What `defectlab label` writes for one product, with the user's normal images in train/good."""
    for sub in ("train/good", "test/spot", "ground_truth/spot", "test/good"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n_train):
        Image.fromarray(texture(rng, size, size)).save(root / "train/good" / f"n{i}.png")
    Image.fromarray(texture(rng, size, size)).save(root / "test/good" / "g0.png")
    for i in range(n_labelled):
        centre = tuple(int(v) for v in rng.integers(24, size - 24, 2))
        image, mask = with_blob(texture(rng, size, size), centre, int(rng.integers(6, 11)))
        Image.fromarray(image).save(root / "test/spot" / f"d{i}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "ground_truth/spot" / f"d{i}_mask.png")
    return root


def test_label_folder_to_seg_train_to_detect_maps_find_the_defect(tmp_path, capsys):
    rng = np.random.default_rng(3)
    root = label_folder(tmp_path / "product", rng)
    init = tiny_checkpoint(tmp_path / "init.safetensors")
    model = tmp_path / "seg.safetensors"
    assert main(["seg-train", "--root", str(root), "--out", str(model), "--init", str(init),
                 "--cache", str(tmp_path / "cache"), "--ignore-band", "2", *TINY]) == 0
    assert model.is_file() and model.with_suffix(".json").is_file()
    assert json.loads(model.with_suffix(".json").read_text())["training"]["ignore_band"] == 2

    images = tmp_path / "new"
    images.mkdir()
    image, mask = with_blob(texture(rng), (30, 62), 9)
    Image.fromarray(image).save(images / "bad.png")
    Image.fromarray(texture(rng)).save(images / "fine.png")
    out = tmp_path / "out"
    assert main(["detect", "--method", "adclick-seg", "--model", str(model), "--normal", str(root / "train/good"),
                 "--images", str(images), "--out", str(out), "--save-maps"]) == 0
    bad = np.load(out / "maps" / "bad.npy")
    fine = np.load(out / "maps" / "fine.npy")
    assert bad.dtype == np.float32 and bad.shape == mask.shape == fine.shape
    assert bad[mask].mean() > 0.5 > bad[~mask].mean()  # the pasted defect is where the map is high
    assert np.unravel_index(bad.argmax(), bad.shape) in set(zip(*np.nonzero(mask)))
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert rows[0]["image"].endswith("bad.png")  # the defective image scores highest
    assert (out / "overlays" / "bad.png").is_file()

    # fit once with the head and the normal images, then score from the saved model: the same scores
    saved = tmp_path / "fitted"
    assert main(["fit", "--method", "adclick-seg", "--model", str(model), "--normal", str(root / "train/good"),
                 "--out", str(saved)]) == 0
    assert main(["detect", "--model", str(saved), "--images", str(images), "--out", str(tmp_path / "o2")]) == 0
    again = list(csv.DictReader(open(tmp_path / "o2" / "scores.csv")))
    assert [(r["image"], r["score"]) for r in again] == [(r["image"], r["score"]) for r in rows]
    # the seg-train checkpoint alone is not a fitted model: it needs the normal images
    assert main(["detect", "--model", str(model), "--images", str(images), "--out", str(tmp_path / "o3")]) == 2
    assert "--normal" in capsys.readouterr().err


def test_save_maps_for_the_default_method(tmp_path):
    rng = np.random.default_rng(0)
    normal, images = tmp_path / "normal", tmp_path / "images"
    normal.mkdir()
    images.mkdir()
    for i in range(3):
        Image.fromarray(texture(rng)).save(normal / f"{i}.png")
    Image.fromarray(texture(rng, 80, 96)).save(images / "a.png")
    assert main(["detect", "--normal", str(normal), "--images", str(images), "--out", str(tmp_path / "o"),
                 "--image-size", "64", "--save-maps"]) == 0
    saved = np.load(tmp_path / "o" / "maps" / "a.npy")
    assert saved.dtype == np.float32 and saved.shape == (80, 96)


@pytest.mark.parametrize("case, message", [
    ("no_masks", "no labelled defects"),
    ("wrong_size", "must have its image's size"),
    ("no_normals", "train/good"),
    ("missing_mask", "has no mask"),
])
def test_seg_train_refuses_unusable_folders_with_a_clear_message(tmp_path, capsys, case, message):
    root = label_folder(tmp_path / "p", np.random.default_rng(1), n_labelled=2)
    if case == "no_masks":
        for f in (root / "test/spot").iterdir():
            f.unlink()
        (root / "test/spot").rmdir()
    elif case == "wrong_size":
        Image.fromarray(np.zeros((50, 40), np.uint8)).save(root / "ground_truth/spot/d0_mask.png")
    elif case == "no_normals":
        for f in (root / "train/good").iterdir():
            f.unlink()
    else:
        (root / "ground_truth/spot/d1_mask.png").unlink()
    init = tiny_checkpoint(tmp_path / "init.safetensors")
    assert main(["seg-train", "--root", str(root), "--out", str(tmp_path / "m.safetensors"), "--init", str(init),
                 *TINY]) == 2
    assert message in capsys.readouterr().err


def test_detect_adclick_seg_needs_its_model(tmp_path, capsys):
    (tmp_path / "n").mkdir()
    assert main(["detect", "--method", "adclick-seg", "--normal", str(tmp_path / "n"), "--images", str(tmp_path / "n"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "seg-train" in capsys.readouterr().err
    assert main(["detect", "--images", str(tmp_path / "n"), "--out", str(tmp_path / "o")]) == 2
    assert "--normal" in capsys.readouterr().err


def test_evaluate_scores_an_adclick_seg_model_on_a_dataset(tmp_path, capsys):
    from click_testutil import make_mvtec

    root = make_mvtec(tmp_path / "data")
    model = tiny_checkpoint(tmp_path / "m.safetensors")  # untrained: this checks the wiring, not the numbers
    assert main(["evaluate", "--dataset", "mvtec-ad", "--root", str(root), "--category", "tile", "--shots", "2",
                 "--seeds", "0", "--method", "adclick-seg", "--model", str(model), "--out", str(tmp_path / "ev")]) == 0
    assert "adclick-seg" in (tmp_path / "ev" / "results.md").read_text()
    assert main(["evaluate", "--dataset", "mvtec-ad", "--root", str(root), "--category", "tile", "--shots", "2",
                 "--method", "patch-knn", "--model", str(model), "--out", str(tmp_path / "ev2")]) == 2
    assert "--model is for --method adclick-seg" in capsys.readouterr().err
