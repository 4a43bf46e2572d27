"""Exported patch kNN scores as torch does: scores within 1e-4 relative, maps within 1e-3, at any image size."""

from pathlib import Path

import numpy as np
import pytest

from defectlab.data import list_images
from defectlab.detect import OnnxDetector, PatchKNNDetector, load_detector
from defectlab.detect.onnx_export import check_export, export_onnx
from defectlab.errors import ConfigError
from defectlab.synthetic.surfaces import add_defect, surface

MT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "magnetic_tile"


def parity(det: PatchKNNDetector, images: list, path: Path) -> dict:
    export_onnx(det, path)
    return check_export(det, path, images)


@pytest.mark.skipif(not (MT / "MT_Free").is_dir(), reason=f"Magnetic Tile photos not at {MT}")
@pytest.mark.parametrize("options", [{}, {"foreground": "pca"}])
def test_parity_on_real_photos(tmp_path, options):
    normals = list_images(MT / "MT_Free" / "Imgs", exclude="*.png")
    defective = [list_images(MT / f"MT_{kind}" / "Imgs", exclude="*.png")[0] for kind in ("Blowhole", "Crack")]
    # Tiles vary in size, so resizing is common-scale and each image has its own input and map size.
    det = PatchKNNDetector(image_size=96, progress=False, **options).fit(normals[:4])
    diff = parity(det, normals[4:6] + defective, tmp_path / "mt.onnx")
    assert diff["images"] == 4 and diff["score_rel"] <= 1e-4 and diff["map_abs"] <= 1e-3


def test_parity_on_generated_surfaces_with_augmented_bank(tmp_path):
    rng = np.random.default_rng(2)
    normals = [surface(rng, 96) for _ in range(2)]
    tests = [surface(rng, 128)[:, :96], add_defect(surface(rng, 96), "hole", rng)[0]]
    det = PatchKNNDetector(image_size=64, augment="rotate", progress=False).fit(normals)
    diff = parity(det, tests, tmp_path / "s.onnx")
    assert diff["score_rel"] <= 1e-4 and diff["map_abs"] <= 1e-3


def test_exported_model_loads_as_a_detector(tmp_path):
    rng = np.random.default_rng(4)
    det = PatchKNNDetector(image_size=64, progress=False).fit([surface(rng, 64) for _ in range(3)])
    path = export_onnx(det, tmp_path / "m.onnx")
    loaded = load_detector(path, progress=False)
    assert isinstance(loaded, OnnxDetector)
    assert loaded.threshold_ == det.threshold_ and loaded.normal_scores() == det.normal_scores()
    pred = loaded.predict_one(surface(rng, 64))
    assert pred.anomaly_map.shape == (64, 64) and pred.score > 0
    with pytest.raises(ConfigError, match="not 'compositional'"):
        load_detector(path, method="compositional")


def test_images_scored_side_by_side_equal_those_scored_one_at_a_time(tmp_path):
    rng = np.random.default_rng(5)
    det = PatchKNNDetector(image_size=64, progress=False).fit([surface(rng, 64) for _ in range(3)])
    path = export_onnx(det, tmp_path / "m.onnx")
    images = [surface(rng, 64 + 16 * (i % 3)) for i in range(7)]  # sizes vary, as the resize allows
    alone, side_by_side = OnnxDetector(path, threads=1, progress=False), OnnxDetector(path, threads=2, progress=False)
    assert side_by_side._predict_workers(len(images)) == 2
    want, got = alone.predict(images), side_by_side.predict(images)
    assert [p.score for p in got] == [p.score for p in want]  # same order, same arithmetic (one thread a run)
    assert all(np.array_equal(a.anomaly_map, b.anomaly_map) for a, b in zip(got, want))


def test_export_is_for_fitted_patch_knn(tmp_path):
    from defectlab.detect import CompositionalDetector
    from defectlab.errors import NotFittedError

    with pytest.raises(ConfigError, match="patch kNN"):
        export_onnx(CompositionalDetector(), tmp_path / "c.onnx")
    with pytest.raises(NotFittedError):
        export_onnx(PatchKNNDetector(), tmp_path / "u.onnx")


def test_an_onnx_file_from_elsewhere_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "other.onnx")
    with pytest.raises(ConfigError, match="not one exported by defectlab"):
        load_detector(tmp_path / "other.onnx")
