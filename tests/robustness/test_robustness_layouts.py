"""Corpus: broken dataset layouts, through ``defectlab evaluate`` (and ``click-eval`` where it reads one).

Each layout is first built complete (and evaluated, to show the builder is
right), then broken in one way; the error must name the file or folder at
fault, or say what the test set lacks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from robustness_util import SIZE, assert_clean_error, save, texture

MASK = np.zeros((48, 48), np.uint8)
MASK[10:20, 10:20] = 255


def _mvtec(root: Path) -> Path:
    cat = root / "bottle"
    for i in range(2):
        save(cat / "train" / "good" / f"{i:03d}.png", texture(48, 48, seed=i))
    save(cat / "test" / "good" / "000.png", texture(48, 48, seed=5))
    save(cat / "test" / "crack" / "000.png", texture(48, 48, seed=6))
    save(cat / "ground_truth" / "crack" / "000_mask.png", MASK)
    return root


def _loco(root: Path) -> Path:
    cat = root / "pushpins"
    for split in ("train", "validation"):
        save(cat / split / "good" / "000.png", texture(48, 48, seed=1))
    save(cat / "test" / "good" / "000.png", texture(48, 48, seed=2))
    save(cat / "test" / "logical_anomalies" / "000.png", texture(48, 48, seed=3))
    save(cat / "ground_truth" / "logical_anomalies" / "000" / "000.png", (MASK > 0).astype(np.uint8) * 7)
    (cat / "defects_config.json").write_text(json.dumps([{"defect_name": "extra", "pixel_value": 7,
                                                          "saturation_threshold": 1.0, "relative_saturation": True}]))
    return root


def _visa(root: Path) -> Path:
    rows = ["object,split,label,image,mask"]
    for i, (split, label) in enumerate([("train", "normal"), ("train", "normal"), ("test", "normal"),
                                        ("test", "anomaly")]):
        kind = "Anomaly" if label == "anomaly" else "Normal"
        image = f"candle/Data/Images/{kind}/{i:03d}.JPG"
        save(root / image, texture(48, 48, seed=i), format="JPEG")
        mask = ""
        if label == "anomaly":
            mask = f"candle/Data/Masks/Anomaly/{i:03d}.png"
            save(root / mask, (MASK > 0).astype(np.uint8))
        rows.append(f"candle,{split},{label},{image},{mask}")
    (root / "split_csv").mkdir()
    (root / "split_csv" / "1cls.csv").write_text("\n".join(rows) + "\n")
    return root


def _ksdd2(root: Path) -> Path:
    for split, start in (("train", 10000), ("test", 20000)):
        for i, defective in enumerate((False, False, True)):
            save(root / split / f"{start + i}.png", texture(48, 48, seed=start + i))
            save(root / split / f"{start + i}_GT.png", MASK if defective else np.zeros_like(MASK))
    return root


def _magnetic(root: Path) -> Path:
    for i in range(4):
        save(root / "MT_Free" / "Imgs" / f"exp1_num_{i}.jpg", texture(48, 48, seed=i), format="JPEG")
    save(root / "MT_Crack" / "Imgs" / "exp1_num_9.jpg", texture(48, 48, seed=9), format="JPEG")
    save(root / "MT_Crack" / "Imgs" / "exp1_num_9.png", MASK)
    return root


def _folder(root: Path) -> Path:
    for i in range(3):
        save(root / "good" / f"{i}.png", texture(48, 48, seed=i))
    save(root / "scratch" / "0.png", texture(48, 48, seed=7))
    return root


BUILD = {"mvtec-ad": _mvtec, "mvtec-loco": _loco, "visa": _visa, "ksdd2": _ksdd2, "magnetic-tile": _magnetic,
         "folder": _folder}


def _rm(rel: str):
    return lambda root: shutil.rmtree(root / rel) if (root / rel).is_dir() else (root / rel).unlink()


def _write(rel: str, data: bytes | str):
    def apply(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data.encode() if isinstance(data, str) else data)

    return apply


def _empty(rel: str):
    def apply(root: Path) -> None:
        shutil.rmtree(root / rel)
        (root / rel).mkdir()

    return apply


def _edit_csv(old: str, new: str):
    def apply(root: Path) -> None:
        path = root / "split_csv" / "1cls.csv"
        path.write_text(path.read_text().replace(old, new, 1))

    return apply


# (dataset, how it is broken, what the message must name)
BROKEN = {
    "mvtec-no-category": ("mvtec-ad", _rm("bottle"), "no MVTec AD categories found"),
    "mvtec-no-test": ("mvtec-ad", _rm("bottle/test"), "bottle/test is missing"),
    "mvtec-no-train": ("mvtec-ad", _rm("bottle/train"), "bottle/train is missing"),
    "mvtec-no-train-good": ("mvtec-ad", _rm("bottle/train/good"), "bottle/train/good"),
    "mvtec-empty-train-good": ("mvtec-ad", _empty("bottle/train/good"), "no images found in"),
    "mvtec-no-anomalies": ("mvtec-ad", _rm("bottle/test/crack"), "no anomalous test image"),
    "mvtec-no-normal-test": ("mvtec-ad", _rm("bottle/test/good"), "no normal test image"),
    "mvtec-missing-mask": ("mvtec-ad", _rm("bottle/ground_truth/crack/000_mask.png"), "000_mask.png"),
    "mvtec-corrupt-test-image": ("mvtec-ad", _write("bottle/test/crack/000.png", b"junk"), "crack/000.png"),
    "mvtec-corrupt-train-image": ("mvtec-ad", _write("bottle/train/good/000.png", b"junk"), "good/000.png"),
    "loco-no-validation": ("mvtec-loco", _rm("pushpins/validation"), "pushpins/validation/good"),
    "loco-no-gt-folder": ("mvtec-loco", _rm("pushpins/ground_truth"), "ground_truth/logical_anomalies/000"),
    "loco-config-not-json": ("mvtec-loco", _write("pushpins/defects_config.json", "{oops"), "defects_config.json"),
    "loco-config-not-utf8": ("mvtec-loco", _write("pushpins/defects_config.json", b"\xff\xfe[]"),
                             "defects_config.json"),
    "loco-config-not-a-list": ("mvtec-loco", _write("pushpins/defects_config.json", '{"a": 1}'),
                               "defects_config.json"),
    "loco-config-missing-key": ("mvtec-loco", _write("pushpins/defects_config.json", '[{"defect_name": "x"}]'),
                                "defects_config.json"),
    "loco-config-bad-value": ("mvtec-loco", _write("pushpins/defects_config.json", json.dumps(
        [{"defect_name": "x", "pixel_value": 300, "saturation_threshold": 1, "relative_saturation": False}])),
        "defects_config.json"),
    "visa-no-split-csv": ("visa", _rm("split_csv/1cls.csv"), "1cls.csv"),
    "visa-csv-not-utf8": ("visa", _write("split_csv/1cls.csv", "object,split,label,image,mask\n".encode()
                                         + b"candle,train,normal,\xff\xfe.JPG,\n"), "1cls.csv"),
    "visa-csv-nul-byte": ("visa", _write("split_csv/1cls.csv", b"object,split\x00,label,image,mask\n"), "1cls.csv"),
    "visa-csv-missing-column": ("visa", _edit_csv("object,split,label,image,mask", "object,split,label,image"),
                                "lacks column(s) mask"),
    "visa-bad-split": ("visa", _edit_csv("candle,test,normal", "candle,val,normal"), "line"),
    "visa-bad-label": ("visa", _edit_csv("candle,test,anomaly", "candle,test,broken"), "'broken'"),
    "visa-listed-file-missing": ("visa", _rm("candle/Data/Images/Normal/000.JPG"), "000.JPG"),
    "visa-anno-not-utf8": ("visa", _write("candle/image_anno.csv", b"image,label\n\xff,\xfe\n"), "image_anno.csv"),
    "visa-no-normal-test-row": ("visa", _edit_csv("candle,test,normal", "other,test,normal"),
                          "VisA 'candle' at"),
    "ksdd2-missing-gt": ("ksdd2", _rm("test/20002_GT.png"), "20002_GT.png"),
    "ksdd2-no-test": ("ksdd2", _rm("test"), "test"),
    "ksdd2-corrupt-gt": ("ksdd2", _write("train/10001_GT.png", b"junk"), "10001_GT.png"),
    "magnetic-no-free": ("magnetic-tile", _rm("MT_Free"), "MT_Free"),
    "magnetic-missing-mask": ("magnetic-tile", _rm("MT_Crack/Imgs/exp1_num_9.png"), "exp1_num_9.png"),
    "magnetic-no-imgs": ("magnetic-tile", _rm("MT_Crack/Imgs"), "MT_Crack/Imgs"),
    "magnetic-one-normal": ("magnetic-tile", lambda r: [p.unlink() for p in (r / "MT_Free/Imgs").glob("*_[123].jpg")],
                            "needs at least 2"),
    "folder-no-good": ("folder", _rm("good"), "good"),
    "folder-only-good": ("folder", _rm("scratch"), "no anomalous test image"),
    "folder-empty-defect-type": ("folder", _empty("scratch"), "scratch"),
}


@pytest.fixture
def evaluate(cli, tmp_path):
    def run(dataset: str, root: Path, *extra):
        return cli("evaluate", "--dataset", dataset, "--root", root, "--shots", "1", "--seeds", "0",
                   "--image-size", SIZE, "--out", tmp_path / "out", *extra)

    return run


@pytest.mark.parametrize("dataset", sorted(BUILD))
def test_each_complete_layout_evaluates(dataset, evaluate, tmp_path):
    run = evaluate(dataset, BUILD[dataset](tmp_path / dataset))
    assert run.rc == 0, run.err
    assert (tmp_path / "out" / "results.csv").is_file()


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_layout_is_named(case, evaluate, tmp_path):
    dataset, breaks, culprit = BROKEN[case]
    root = BUILD[dataset](tmp_path / dataset)
    breaks(root)
    assert_clean_error(evaluate(dataset, root, "--no-pixel"), culprit)


def test_a_corrupt_mask_is_named_when_pixel_metrics_need_it(evaluate, tmp_path):
    root = _mvtec(tmp_path / "mvtec")
    (root / "bottle" / "ground_truth" / "crack" / "000_mask.png").write_bytes(b"junk")
    assert_clean_error(evaluate("mvtec-ad", root), "000_mask.png")


def test_a_mask_of_another_size_is_named(evaluate, tmp_path):
    root = _mvtec(tmp_path / "mvtec")
    save(root / "bottle" / "ground_truth" / "crack" / "000_mask.png", np.pad(MASK, 20))
    assert_clean_error(evaluate("mvtec-ad", root), "000_mask.png has shape (88, 88)")


@pytest.mark.parametrize(("extra", "culprit"), [
    (["--category", "nope"], "category 'nope' not found"),
    (["--shots", "5"], "shots 5 needs 5 normal training images"),
    (["--max-test", "1"], "no anomalous test image"),
])
def test_options_the_layout_cannot_satisfy_are_named(extra, culprit, evaluate, tmp_path):
    assert_clean_error(evaluate("mvtec-ad", _mvtec(tmp_path / "mvtec"), *extra), culprit)


def test_the_flat_folder_layout_holds_out_the_support_images(evaluate, tmp_path):
    root = _folder(tmp_path / "f")
    for extra in ("1.png", "2.png"):
        (root / "good" / extra).unlink()
    assert_clean_error(evaluate("folder", root), "no normal test image once the 1 support images are held out")


def test_a_root_that_is_a_file_names_the_flag(evaluate, tmp_path):
    assert_clean_error(evaluate("mvtec-ad", save(tmp_path / "x.png")), "argument --root", "is a file")


def test_click_eval_names_a_broken_layout(cli, tmp_path):
    root = _magnetic(tmp_path / "mt")
    shutil.rmtree(root / "MT_Free")
    assert_clean_error(cli("click-eval", "--root", root, "--out", tmp_path / "o", "--no-progress"), "MT_Free")
