"""Leave-one-out normal scores in one pass equal the definition (an index of the others per image), with or without a coreset."""

import numpy as np
import pytest

from defectlab.backbones.knn import CosineIndex, greedy_coreset
from defectlab.detect import patch_knn
from defectlab.detect.patch_knn import PatchKNNDetector, _augmented, top_percent_mean
from defectlab.synthetic.surfaces import surface


def rebuilt_per_image(det: PatchKNNDetector, images: list[np.ndarray]) -> list[float]:
    """The definition, as normal_scores() computed it before: one index of the other images' rows per image."""
    rows, feats = [], []
    for image in images:
        views = det.embed(_augmented(image, det.augment))
        feats.append(views[0])
        flat = [v.reshape(-1, v.shape[-1]) for v in views]
        if det.foreground_axis_ is not None:
            flat = [f[det._fg_mask(v)] for f, v in zip(flat, views)]
        rows.append(np.concatenate(flat))
    scores = []
    for i, feat in enumerate(feats):
        others = CosineIndex(np.concatenate(rows[:i] + rows[i + 1 :]))
        dist = others.distance(feat.reshape(-1, feat.shape[-1]))
        if det.foreground_axis_ is not None:
            dist = np.where(det._fg_mask(feat), dist, 0.0)
        scores.append(top_percent_mean(dist, det.top_percent))
    return scores


@pytest.mark.parametrize("options", [{}, {"augment": "rotate", "foreground": "pca"}])
def test_one_pass_equals_an_index_of_the_others_per_image(options):
    rng = np.random.default_rng(3)
    images = [surface(rng, 96) for _ in range(4)]
    det = PatchKNNDetector(image_size=96, progress=False, **options).fit(images)
    assert det.normal_scores() == pytest.approx(rebuilt_per_image(det, images), rel=1e-5)


def test_with_a_coreset_leave_one_out_searches_the_coreset_rows_of_the_others(monkeypatch):
    monkeypatch.setattr(patch_knn, "MIN_CORESET_ROWS", 10)
    rng = np.random.default_rng(6)
    images = [surface(rng, 96) for _ in range(4)]
    exact = PatchKNNDetector(image_size=96, coreset=1.0, progress=False).fit(images[:3])
    small = PatchKNNDetector(image_size=96, coreset=0.2, progress=False).fit(images[:3])
    whole = exact.index_.bank
    assert len(small.index_) == round(0.2 * len(whole))
    # the definition: each image against an index of the coreset rows that came from the other images
    keep = np.sort(greedy_coreset(whole, len(small.index_)))
    np.testing.assert_array_equal(small.index_.bank, whole[keep])
    per_image = len(whole) // 3
    feats = [exact.embed([im])[0] for im in images[:3]]
    expected = [top_percent_mean(CosineIndex(whole[keep[keep // per_image != i]], normalised=True)
                                 .distance(f.reshape(-1, f.shape[-1])), small.top_percent)
                for i, f in enumerate(feats)]
    assert small.normal_scores() == pytest.approx(expected, rel=1e-5)
    # fewer rows are never nearer: the coreset's leave-one-out and test scores are at least the whole bank's
    assert all(s >= e - 1e-6 for s, e in zip(small.normal_scores(), exact.normal_scores()))
    assert small.predict_one(images[3]).score >= exact.predict_one(images[3]).score - 1e-6
    with pytest.raises(ValueError, match="coreset"):
        PatchKNNDetector(coreset=0, progress=False).fit(images[:1])


def test_shots_that_repeat_each_other_still_get_leave_one_out_scores(monkeypatch):
    # identical shots: the greedy coreset takes every row from the first, so the first has no coreset
    # rows of others and falls back to the whole bank's (its twin: distance 0); the second meets the
    # coreset exactly as a new copy of the image would
    monkeypatch.setattr(patch_knn, "MIN_CORESET_ROWS", 10)
    image = surface(np.random.default_rng(8), 96)
    det = PatchKNNDetector(image_size=96, coreset=0.2, progress=False).fit([image, image.copy()])
    first, second = det.normal_scores()
    assert first < 1e-5
    assert second == pytest.approx(det.predict_one(image).score, rel=1e-5)


def test_a_small_bank_is_kept_whole():
    rng = np.random.default_rng(7)
    images = [surface(rng, 96) for _ in range(2)]  # 2 x 144 rows, under MIN_CORESET_ROWS
    assert len(PatchKNNDetector(image_size=96, progress=False).fit(images).index_) == 288
