"""``defectlab fit`` and ``defectlab export`` on tiny generated data: saved and exported models score as a fresh fit."""

import argparse

import numpy as np
import pytest

from defectlab.cli import export, fit
from defectlab.data.io import list_images, load_images
from defectlab.detect import OnnxDetector, PatchKNNDetector, load_detector
from defectlab.errors import ConfigError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    fit.register(sub)
    export.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_fit_then_export_score_as_a_fresh_fit(folders, tmp_path, capsys):
    images, normal = folders
    model = tmp_path / "models" / "line1"
    assert run(["fit", "--normal", str(normal), "--out", str(model), "--image-size", "96"]) == 0
    assert "threshold" in capsys.readouterr().out
    arrays, _ = load_images(list_images(normal))
    fresh = PatchKNNDetector(image_size=96, progress=False).fit(arrays)
    saved = load_detector(model, progress=False)
    tests = list_images(images)
    assert [p.score for p in saved.predict(tests)] == [p.score for p in fresh.predict(tests)]
    assert saved.threshold_ == fresh.threshold_

    onnx_path = tmp_path / "line1.onnx"
    assert run(["export", str(model) + ".json", "--out", str(onnx_path), "--check", str(images)]) == 0
    out = capsys.readouterr().out
    assert f"check on {len(tests)} images" in out
    exported = load_detector(onnx_path)
    assert isinstance(exported, OnnxDetector)
    np.testing.assert_allclose([p.score for p in exported.predict(tests)], [p.score for p in fresh.predict(tests)],
                               rtol=1e-4)


def test_fit_saves_the_threshold_for_a_false_alarm_rate(folders, tmp_path):
    _, normal = folders
    model = tmp_path / "m"
    assert run(["fit", "--normal", str(normal), "--out", str(model), "--image-size", "96",
                "--false-alarm-rate", "0.01"]) == 0
    saved = load_detector(model)
    assert saved.threshold_ == saved.threshold_at(0.01) > max(saved.normal_scores())


def test_export_refuses_a_compositional_model(folders, tmp_path):
    _, normal = folders
    model = tmp_path / "box"
    assert run(["fit", "--normal", str(normal), "--out", str(model), "--method", "compositional",
                "--segmenter", "feature-cluster", "--image-size", "96"]) == 0
    with pytest.raises(ConfigError, match="not 'patch-knn'"):
        run(["export", str(model), "--out", str(tmp_path / "box.onnx")])


def test_export_of_a_bf16_model_says_its_scores_differ(folders, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    _, normal = folders
    model = tmp_path / "bf16"
    assert run(["fit", "--normal", str(normal), "--out", str(model), "--image-size", "96", "--precision", "bf16"]) == 0
    assert run(["export", str(model), "--out", str(tmp_path / "bf16.onnx")]) == 0
    assert "fit with --precision fp32 for exact parity" in capsys.readouterr().out
