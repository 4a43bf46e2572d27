"""The adclick-seg detector follows the Detector contract; seg_train's folder reader and label checks."""

import numpy as np
import pytest
from click_testutil import make_mvtec, one_thread, texture, tiny_checkpoint, with_blob  # noqa: F401

from defectlab.click.seg_detector import smoothed_max
from defectlab.click.seg_train import Labelled, boundary_weight, check_labels, read_label_folder
from defectlab.detect import DETECTORS, clone, create_detector
from defectlab.errors import DataError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_registered_and_scikit_learn_style(tmp_path):
    assert "adclick-seg" in DETECTORS.names()
    model = tiny_checkpoint(tmp_path / "m.safetensors")
    det = create_detector("adclick-seg", model=str(model), progress=False)
    assert clone(det).get_params() == det.get_params() and "sigma" in repr(clone(det).set_params(sigma=2.0))
    rng = np.random.default_rng(0)
    normals = [texture(rng) for _ in range(3)]
    det.fit(normals)
    assert len(det.normal_scores()) == 3 and det.threshold_ == max(det.normal_scores())
    image, _ = with_blob(texture(rng, 80, 100))
    pred = det.predict([image])[0]
    assert pred.anomaly_map.shape == (80, 100) and pred.anomaly_map.dtype == np.float32
    assert pred.score == pytest.approx(smoothed_max(pred.anomaly_map, det.sigma))


def test_smoothed_max_ignores_a_single_hot_pixel_but_not_a_small_defect():
    prob = np.zeros((64, 64), np.float32)
    prob[10, 10] = 1.0
    blob = np.zeros_like(prob)
    blob[30:42, 30:42] = 1.0  # 12 px across
    assert smoothed_max(prob, 4.0) < 0.05 < 0.5 < smoothed_max(blob, 4.0)
    assert smoothed_max(prob, 0) == 1.0


def test_read_label_folder_takes_test_good_as_negatives(tmp_path):
    root = make_mvtec(tmp_path / "d") / "tile"
    data = read_label_folder(root)
    assert len(data.normals) == 4 and len(data.extra_negatives) == 1
    assert [x.defect_type for x in data.labelled] == ["blob", "blob"]
    assert read_label_folder(tmp_path / "d", "tile").labelled == data.labelled


def test_all_empty_masks_are_refused(tmp_path):
    root = make_mvtec(tmp_path / "d") / "tile"
    items = [Labelled(x.image, np.zeros((96, 96), bool), x.defect_type) for x in read_label_folder(root).labelled]
    with pytest.raises(DataError, match="empty"):
        check_labels(items)


def test_boundary_weight_leaves_out_a_band_on_both_sides_but_never_a_whole_defect():
    mask = np.zeros((40, 40), bool)
    mask[5:25, 5:25] = True  # a large defect: its inner and outer rings go, its core stays
    mask[33, 33] = True  # a one-pixel defect: only the ring around it goes
    w = boundary_weight(mask, 2).numpy()
    assert w[15, 15] == 1 and w[5, 15] == 0 and w[3, 15] == 0 and w[1, 15] == 1
    assert w[33, 33] == 1 and w[33, 35] == 0 and w[0, 39] == 1
    assert boundary_weight(np.zeros((8, 8), bool), 2).numpy().all()
