"""Leave-one-out normal scores in one pass equal the definition (an index of the others per image), with or without a coreset."""

import numpy as np
import pytest

from defectlab.backbones.knn import CosineIndex
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


def test_a_coreset_scores_from_a_share_of_the_bank_and_leave_one_out_uses_all_of_it():
    rng = np.random.default_rng(6)
    images = [surface(rng, 96) for _ in range(4)]
    exact = PatchKNNDetector(image_size=96, progress=False).fit(images[:3])
    small = PatchKNNDetector(image_size=96, coreset=0.2, progress=False).fit(images[:3])
    assert len(small.index_) == round(0.2 * len(exact.index_))
    assert small.normal_scores() == exact.normal_scores()
    # a subset's nearest row is never nearer than the whole bank's
    assert small.predict_one(images[3]).score >= exact.predict_one(images[3]).score - 1e-6
    with pytest.raises(ValueError, match="coreset"):
        PatchKNNDetector(coreset=0, progress=False).fit(images[:1])
