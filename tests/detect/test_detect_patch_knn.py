import numpy as np
import pytest

from defectlab.backbones.embedder import upsample_map
from defectlab.backbones.resize import Resizer
from defectlab.detect.patch_knn import PatchKNNDetector, top_percent_mean
from defectlab.errors import NotFittedError
from defectlab.synthetic.surfaces import add_defect, surface


@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(1)
    normals = [surface(rng, 128) for _ in range(3)]
    good = [surface(rng, 128) for _ in range(3)]
    bad, masks = zip(*[add_defect(surface(rng, 128), kind, rng) for kind in ("hole", "stain", "scratch")])
    return normals, good, list(bad), list(masks)


def test_defects_score_higher_and_maps_point_at_them(scenes):
    normals, good, bad, masks = scenes
    det = PatchKNNDetector(image_size=128, progress=False).fit(normals)
    good_scores = [p.score for p in det.predict(good)]
    preds = det.predict(bad)
    assert min(p.score for p in preds) > max(good_scores)
    for pred, mask in zip(preds, masks):
        assert pred.anomaly_map.shape == mask.shape
        inside = pred.anomaly_map[mask > 0].mean()
        outside = pred.anomaly_map[mask == 0].mean()
        assert inside > 2 * outside


def test_normal_scores_leave_one_out(scenes):
    normals, good, _, _ = scenes
    det = PatchKNNDetector(image_size=128, progress=False).fit(normals)
    scores = det.normal_scores()
    assert len(scores) == len(normals)
    # Equal to refitting on the other images, as long as the resize is fixed.
    rest = PatchKNNDetector(image_size=128, resize="shorter-side", progress=False).fit(normals[1:])
    assert scores[0] == pytest.approx(rest.predict([normals[0]])[0].score, rel=1e-4)
    assert PatchKNNDetector(image_size=128, progress=False).fit(normals[:1]).normal_scores() == []


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        PatchKNNDetector(progress=False).predict([np.zeros((64, 64, 3), np.uint8)])


def test_fit_needs_images():
    with pytest.raises(ValueError, match="at least one"):
        PatchKNNDetector(progress=False).fit([])


def test_bad_parameters_are_named_at_fit():
    image = [np.zeros((64, 64, 3), np.uint8)]
    with pytest.raises(ValueError, match="augment"):
        PatchKNNDetector(augment="zoom", progress=False).fit(image)
    with pytest.raises(ValueError, match="top_percent"):
        PatchKNNDetector(top_percent=0, progress=False).fit(image)


def test_constructor_only_stores_parameters():
    from defectlab.detect import clone

    det = PatchKNNDetector(backbone="no-such-backbone", image_size=128)
    assert det.get_params()["image_size"] == 128
    assert repr(det) == "PatchKNNDetector(backbone='no-such-backbone', image_size=128)"
    assert clone(det).get_params() == det.get_params()


def test_fit_sets_the_threshold(scenes):
    normals, *_ = scenes
    det = PatchKNNDetector(image_size=96, progress=False).fit(normals[:3])
    assert det.threshold_ == max(det.normal_scores())


def test_augment_and_foreground_options_run(scenes):
    normals, good, bad, _ = scenes
    det = PatchKNNDetector(image_size=96, augment="rotate", foreground="pca", progress=False).fit(normals[:1])
    assert len(det.index_) > 0
    assert det.predict(bad[:1])[0].score >= 0


def test_top_percent_mean():
    values = np.arange(100, dtype=float)
    assert top_percent_mean(values, 1) == 99
    assert top_percent_mean(values, 5) == np.mean([95, 96, 97, 98, 99])


def test_upsample_map_shape_and_smoothing():
    grid = np.zeros((4, 4), np.float32)
    grid[1, 1] = 1
    full = upsample_map(grid, (40, 30), sigma=2)
    assert full.shape == (40, 30)
    assert full.max() < 1


def test_resizer_policies():
    r = Resizer("auto", 128).fit([(200, 300), (200, 300)])
    assert r.policy == "shorter-side" and r.target((200, 300)) == (128, 192)
    r = Resizer("auto", 100).fit([(200, 300), (400, 250), (100, 500)])
    assert r.policy == "common-scale"
    assert r.scale == pytest.approx(0.5)  # median shorter side 200 -> 100
    assert r.target((400, 250)) == (200, 125)
    assert Resizer("squash", 64).fit([(10, 20)]).target((300, 50)) == (64, 64)
    with pytest.raises(ValueError, match="resize policy"):
        Resizer("crop")
    # A refit resolves "auto" afresh instead of keeping the first images' answer.
    r = Resizer("auto", 100).fit([(200, 300), (400, 250)])
    assert r.fit([(200, 300), (200, 300)]).policy == "shorter-side" and r.scale is None


def test_cosine_index_matches_brute_force():
    from defectlab.backbones.knn import CosineIndex, normalise

    rng = np.random.default_rng(0)
    bank, queries = rng.normal(size=(200, 16)), rng.normal(size=(30, 16))
    expected = 1 - (normalise(queries) @ normalise(bank).T).max(1)
    for backend in ("faiss", "torch"):
        index = CosineIndex(bank, backend=backend)
        assert np.allclose(index.distance(queries), expected, atol=1e-5)
        assert index.search(queries, k=3)[1].shape == (30, 3)
    with pytest.raises(ValueError, match="non-empty"):
        CosineIndex(np.zeros((0, 16)))


def test_a_single_path_or_a_zero_batch_is_named():
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="normal_images must be a list of images"):
        PatchKNNDetector(progress=False).fit("x.png")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        PatchKNNDetector(batch_size=0, progress=False).fit([image])
    fitted = PatchKNNDetector(image_size=64, progress=False).fit([image, image])
    with pytest.raises(ValueError, match="images must be a list of images"):
        fitted.predict("x.png")
