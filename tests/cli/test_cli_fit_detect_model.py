"""fit -> detect --model -> export -> detect --model model.onnx gives the scores of detect --normal."""

import csv
import json

import pytest

from defectlab.cli import main
from defectlab.data.io import save_png_atomic
from defectlab.synthetic.surfaces import add_defect, surface


def scores(out):
    return {r["image"]: float(r["score"]) for r in csv.DictReader(open(out / "scores.csv"))}


def test_saved_and_exported_models_score_as_a_fresh_fit(tmp_path):
    import numpy as np

    rng = np.random.default_rng(3)
    for i in range(3):
        save_png_atomic(tmp_path / "normal" / f"{i}.png", surface(rng, 96))
    save_png_atomic(tmp_path / "images" / "ok.png", surface(rng, 96))
    save_png_atomic(tmp_path / "images" / "bad.png", add_defect(surface(rng, 96), "stain", rng)[0])
    common = ["--images", str(tmp_path / "images"), "--image-size", "96"]
    assert main(["detect", "--normal", str(tmp_path / "normal"), *common, "--out", str(tmp_path / "fresh")]) == 0
    assert main(["fit", "--normal", str(tmp_path / "normal"), "--image-size", "96", "--out", str(tmp_path / "m")]) == 0
    assert main(["detect", "--model", str(tmp_path / "m"), *common, "--out", str(tmp_path / "saved")]) == 0
    assert scores(tmp_path / "saved") == pytest.approx(scores(tmp_path / "fresh"), rel=1e-6)
    pytest.importorskip("onnxruntime")
    assert main(["export", str(tmp_path / "m"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert main(["detect", "--model", str(tmp_path / "m.onnx"), *common, "--out", str(tmp_path / "onnx")]) == 0
    assert scores(tmp_path / "onnx") == pytest.approx(scores(tmp_path / "fresh"), rel=1e-4)
    assert "detector: model" in (tmp_path / "onnx" / "summary.md").read_text()


def test_ray_engine_reproduces_detect_model_and_a_rerun_adds_no_rows(tmp_path):
    import numpy as np

    pytest.importorskip("ray")
    rng = np.random.default_rng(4)
    for i in range(2):
        save_png_atomic(tmp_path / "normal" / f"{i}.png", surface(rng, 96))
    for i in range(3):
        save_png_atomic(tmp_path / "images" / f"{i}.png", surface(rng, 96))
    assert main(["fit", "--normal", str(tmp_path / "normal"), "--image-size", "96", "--out", str(tmp_path / "m")]) == 0
    model = ["--model", str(tmp_path / "m"), "--images", str(tmp_path / "images")]
    assert main(["detect", *model, "--out", str(tmp_path / "plain")]) == 0
    ray = ["detect", "--engine", "ray", "--workers", "2", *model, "--out", str(tmp_path / "ray")]
    assert main(ray) == 0 and main(ray) == 0
    rows = list(csv.DictReader(open(tmp_path / "ray" / "scores.csv")))
    assert len(rows) == 3
    assert {r["image"]: float(r["score"]) for r in rows} == pytest.approx(scores(tmp_path / "plain"), rel=1e-6)


def test_no_progress_keeps_fit_and_detect_quiet_and_their_scores(tmp_path, capfd):
    import numpy as np

    rng = np.random.default_rng(4)
    for i in range(4):
        save_png_atomic(tmp_path / "normal" / f"{i}.png", surface(rng, 96))
    for i in range(4):
        save_png_atomic(tmp_path / "images" / f"{i}.png", surface(rng, 96))
    common = ["--images", str(tmp_path / "images"), "--image-size", "96"]
    assert main(["detect", "--normal", str(tmp_path / "normal"), *common, "--out", str(tmp_path / "bars")]) == 0
    assert "scoring" in capfd.readouterr().err
    assert main(["fit", "--normal", str(tmp_path / "normal"), "--image-size", "96", "--out", str(tmp_path / "m"),
                 "--no-progress"]) == 0
    assert main(["detect", "--model", str(tmp_path / "m"), *common, "--out", str(tmp_path / "quiet"), "--no-progress"]) == 0
    assert main(["detect", "--normal", str(tmp_path / "normal"), *common, "--out", str(tmp_path / "quiet2"),
                 "--no-progress"]) == 0
    err = capfd.readouterr().err
    assert "scoring" not in err and "img/s" not in err, err
    assert "progress" not in json.loads((tmp_path / "m.json").read_text())["params"]  # not baked into the model
    assert scores(tmp_path / "quiet") == pytest.approx(scores(tmp_path / "bars"), rel=1e-6)
    assert scores(tmp_path / "quiet2") == scores(tmp_path / "bars")
