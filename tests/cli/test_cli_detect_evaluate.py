"""The detect / evaluate / demo commands, end to end on tiny generated data."""

import csv

import numpy as np
import pytest

from defectlab.cli import main
from defectlab.data.io import save_png_atomic
from defectlab.synthetic.surfaces import add_defect, make_demo_data, surface


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    return make_demo_data(tmp_path_factory.mktemp("demo"), n_normal=3, n_test_normal=2, per_defect=1)


def test_detect_writes_scores_overlays_and_summary(demo_root, tmp_path, capsys):
    images = tmp_path / "images"
    rng = np.random.default_rng(5)
    save_png_atomic(images / "good.png", surface(rng, 128))
    save_png_atomic(images / "bad.png", add_defect(surface(rng, 128), "stain", rng)[0])
    out = tmp_path / "out"
    assert main(["detect", "--normal", str(demo_root / "train" / "good"), "--images", str(images),
                 "--out", str(out), "--image-size", "128"]) == 0
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert [r["image"].endswith("bad.png") for r in rows] == [True, False]  # most anomalous first
    assert rows[0]["anomalous"] == "1"
    assert (out / "overlays" / "bad.png").exists() and (out / "summary.png").exists()
    report = (out / "report.html").read_text(encoding="utf-8")
    assert report.count("<tr>") == 1 + len(list(csv.DictReader(open(out / "scores.csv"))))
    assert "flagged" in capsys.readouterr().out


def test_detect_draws_from_maps_it_reads_back_and_leaves_only_its_outputs(demo_root, tmp_path):
    """Scoring puts each map on disk and the outputs are drawn from it afterwards (memory stays flat):
    the saved map is the detector's, and the scratch copies are gone when the run ends."""
    from defectlab.data import list_images, load_image
    from defectlab.detect import create_detector

    images = tmp_path / "images"
    rng = np.random.default_rng(6)
    for i in range(3):
        save_png_atomic(images / f"{i}.png", surface(rng, 96))
    normal = demo_root / "train" / "good"
    for out, extra in ((tmp_path / "plain", []), (tmp_path / "maps", ["--save-maps"])):
        assert main(["detect", "--normal", str(normal), "--images", str(images), "--out", str(out),
                     "--image-size", "96", *extra]) == 0
        expected = {"overlays", "scores.csv", "summary.png", "report.html", "summary.md"} | ({"maps"} if extra else set())
        assert {p.name for p in out.iterdir()} == expected
        assert len(list((out / "overlays").iterdir())) == 3
    detector = create_detector("patch-knn", image_size=96).fit([load_image(p) for p in list_images(normal)])
    np.testing.assert_allclose(np.load(tmp_path / "maps" / "maps" / "1.npy"),
                               detector.predict([load_image(images / "1.png")])[0].anomaly_map, rtol=1e-5, atol=1e-6)


def test_detect_names_an_unreadable_file_and_can_skip_it(demo_root, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.png").write_bytes(b"not a png")
    save_png_atomic(images / "ok.png", surface(np.random.default_rng(0), 96))
    args = ["detect", "--normal", str(demo_root / "train" / "good"), "--images", str(images),
            "--out", str(tmp_path / "o"), "--image-size", "96", "--threshold", "0.5"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "--skip-bad" in err
    with pytest.warns(UserWarning, match="broken.png"):
        assert main(args + ["--skip-bad"]) == 0


def test_detect_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["detect", "--normal", str(tmp_path / "nope"), "--images", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err


def test_a_mistyped_runtime_is_refused_before_anything_is_written(demo_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEFECTLAB_RUNTIME", "onnx")
    out = tmp_path / "out"
    assert main(["detect", "--normal", str(demo_root / "train" / "good"), "--images", str(demo_root / "test"),
                 "--out", str(out)]) == 2
    assert "DEFECTLAB_RUNTIME='onnx'" in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_prints_and_saves_the_table(demo_root, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--dataset", "folder", "--root", str(demo_root), "--shots", "1", "2",
                 "--seeds", "0", "--image-size", "96", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for key in ("image_auroc/all", "f1_max/all", "f1_floor/all", "pixel_aupro/all", "1-shot", "2-shot"):
        assert key in printed
    assert (out / "results.md").exists()
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert {r["shots"] for r in rows} == {"1", "2"}


def test_evaluate_bad_root(tmp_path, capsys):
    assert main(["evaluate", "--dataset", "mvtec-ad", "--root", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def test_evaluate_compositional_with_ablation(demo_root, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--dataset", "folder", "--root", str(demo_root), "--shots", "2", "--seeds", "0",
                 "--method", "compositional", "--segmenter", "feature-cluster", "--descriptors", "vand",
                 "--image-size", "128", "--no-pixel", "--ablation", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "image_auroc/all" in printed
    assert "patch" in printed.split("image_auroc/all")[-1]  # the ablation table names descriptors


def test_ablation_needs_the_compositional_method(demo_root, tmp_path, capsys):
    assert main(["evaluate", "--dataset", "folder", "--root", str(demo_root), "--ablation"]) == 2
    assert "--method compositional" in capsys.readouterr().err


def test_detect_compositional_scores_csv_has_descriptor_and_explanation_columns(tmp_path):
    from defectlab.detect.descriptors import PRESETS
    from defectlab.synthetic.scenes import make_scenes

    scenes = make_scenes("pushpins", 4, {"missing": 1}, size=96, seed=2)
    normal, images = tmp_path / "normal", tmp_path / "images"
    for i, s in enumerate(scenes[:3]):
        save_png_atomic(normal / f"n{i}.png", s.image)
    save_png_atomic(images / "good.png", scenes[3].image)
    save_png_atomic(images / "missing.png", scenes[4].image)
    out = tmp_path / "out"
    assert main(["detect", "--normal", str(normal), "--images", str(images), "--out", str(out),
                 "--method", "compositional", "--segmenter", "feature-cluster", "--image-size", "96"]) == 0
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert len(rows) == 2
    for name in PRESETS["default"]:
        assert all(float(r[name]) >= 0 for r in rows)
    assert all(r["explanation"] for r in rows)
    assert {"group:structural", "group:logical"} <= set(rows[0])
