"""Saving a fitted detector and loading it back: same scores as the detector that was fitted, clear errors otherwise."""

import json

import numpy as np
import pytest

from defectlab.backbones import create_backbone
from defectlab.detect import CompositionalDetector, PatchKNNDetector, load_detector
from defectlab.detect.persist import model_paths
from defectlab.errors import ConfigError, ModelNotFoundError, NotFittedError
from defectlab.synthetic.scenes import make_scenes
from defectlab.synthetic.surfaces import add_defect, surface


@pytest.fixture(scope="module")
def surfaces():
    rng = np.random.default_rng(5)
    normals = [surface(rng, 96) for _ in range(3)]
    tests = [surface(rng, 96), add_defect(surface(rng, 96), "scratch", rng)[0]]
    return normals, tests


def assert_same_predictions(a, b):
    assert [p.score for p in a] == [p.score for p in b]
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.anomaly_map, pb.anomaly_map)


@pytest.mark.parametrize("options", [{}, {"augment": "rotate", "foreground": "pca", "resize": "common-scale"}])
def test_patch_knn_scores_as_saved_without_the_normal_images(surfaces, tmp_path, options):
    normals, tests = surfaces
    det = PatchKNNDetector(image_size=96, progress=False, **options).fit(normals)
    written = det.save(tmp_path / "line1")
    assert written == tmp_path / "line1.safetensors" and (tmp_path / "line1.json").is_file()
    for name in ("line1", "line1.json", "line1.safetensors"):
        loaded = load_detector(tmp_path / name, progress=False)
        assert type(loaded) is PatchKNNDetector and loaded.get_params() == det.get_params()
        assert loaded.threshold_ == det.threshold_ and loaded.normal_scores() == det.normal_scores()
        assert_same_predictions(loaded.predict(tests), det.predict(tests))


def test_a_backbone_object_is_saved_by_its_name(surfaces, tmp_path):
    normals, _ = surfaces
    det = PatchKNNDetector(create_backbone("efficientnet-lite0"), image_size=96, progress=False).fit(normals[:2])
    det.save(tmp_path / "m")
    assert json.loads((tmp_path / "m.json").read_text())["params"]["backbone"] == "efficientnet-lite0"


@pytest.mark.parametrize("aligner", ["hungarian", "codebook"])
def test_compositional_scores_and_explains_as_saved(tmp_path, aligner):
    scenes = make_scenes("pushpins", 4, {"missing": 1}, size=96, seed=3)
    det = CompositionalDetector(segmenter="feature-cluster", aligner=aligner, image_size=96, progress=False)
    det.fit([s.image for s in scenes[:3]])
    det.save(tmp_path / "box")
    loaded = load_detector(tmp_path / "box", method="compositional")
    tests = [s.image for s in scenes[3:]]
    expected, got = det.predict(tests), loaded.predict(tests)
    assert_same_predictions(got, expected)
    assert [p.explanation for p in got] == [p.explanation for p in expected]
    assert loaded.normal_scores() == det.normal_scores() and loaded.threshold_ == det.threshold_


def test_errors_say_what_is_wrong(surfaces, tmp_path):
    normals, _ = surfaces
    with pytest.raises(NotFittedError, match="save"):
        PatchKNNDetector(progress=False).save(tmp_path / "unfitted")
    with pytest.raises(ModelNotFoundError, match="nothing.json"):
        load_detector(tmp_path / "nothing")
    det = PatchKNNDetector(image_size=96, progress=False).fit(normals[:2])
    path = det.save(tmp_path / "m")
    with pytest.raises(ConfigError, match="holds a 'patch-knn' detector, not 'compositional'"):
        load_detector(path, method="compositional")
    header_path = model_paths(path)[1]
    header = json.loads(header_path.read_text())
    header_path.write_text(json.dumps({**header, "defectlab_version": "0.0.1"}))
    with pytest.raises(ConfigError, match=r"saved by defectlab 0\.0\.1.*refit"):
        load_detector(path)
    det.set_params(layers=np.array(["stage3"]))
    with pytest.raises(ConfigError, match="layers"):
        det.save(tmp_path / "bad")
