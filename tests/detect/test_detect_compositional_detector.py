"""The compositional detector end to end: offline default, and SAM + DINOv2 from local (tiny random) weights."""

import argparse

import numpy as np
import pytest

from defectlab.detect import clone, fusion
from defectlab.detect.compositional import CompositionalDetector, Observation
from defectlab.detect.descriptors import LOGICAL, STRUCTURAL
from defectlab.detect.explain import save_class_maps
from defectlab.errors import ConfigError, NotFittedError
from defectlab.evaluation.ablation import ablation_table, descriptor_ablation
from defectlab.synthetic.scenes import make_scenes

SIZE = 128


@pytest.fixture(scope="module")
def scenes():
    # pins: a missing one has a place where it should be, so the map can be checked
    return make_scenes("pushpins", 5, {"missing": 1, "scratch": 1}, size=SIZE, seed=11)


@pytest.fixture(scope="module")
def fitted(scenes):
    det = CompositionalDetector(segmenter="feature-cluster", image_size=SIZE, progress=False)
    return det.fit([s.image for s in scenes[:4]])


@pytest.fixture(scope="module")
def predictions(fitted, scenes):
    return fitted.predict([s.image for s in scenes[4:]])  # normal, missing, scratch


def test_missing_part_outscores_normal_and_is_explained(predictions, scenes, fitted):
    preds, missing = predictions, scenes[5]
    assert preds[1].score > preds[0].score
    d = preds[1].details
    assert d.descriptors["class-histogram"].score > 1.0
    assert "missing part" in d.descriptors["class-histogram"].reason
    # the default six: the seven less class-patch
    assert set(d.descriptors) == {"patch", "foreground-patch", "class-embedding",
                                     "class-histogram", "class-colour", "class-location"}
    # the fusion: descriptor scores summed per group, each group self-normalised, then combined
    assert set(d.groups) == {"structural", "logical"}
    for group, members in (("structural", STRUCTURAL), ("logical", LOGICAL)):
        raw = sum(d.descriptors[n].score for n in members if n in d.descriptors)
        assert d.groups[group] == pytest.approx(raw / fitted.group_weights_[group])
    assert preds[1].score == pytest.approx(fusion.combine(d.groups, fitted.fusion))
    assert d.explanation and d.class_map is not None
    assert set(d.timings) == {"features", "segment", "align", "describe", "fuse"}
    # the map lights up where the pin should have been
    amap, mask = preds[1].anomaly_map, missing.mask
    assert amap.shape == mask.shape and amap[mask].mean() > amap[~mask].mean()


def test_weights_come_from_leave_one_out(fitted):
    assert set(fitted.loo_scores_) == set(fitted.weights_)
    for name, scores in fitted.loo_scores_.items():
        assert len(scores) == 4 and fitted.weights_[name] >= max(scores) - 1e-12
    normal = fitted.normal_scores()
    assert len(normal) == 4 and max(normal) <= len(fitted.weights_) + 1e-9  # each term is at most 1
    assert fitted.threshold_ == max(normal)
    assert len(fitted.normal_parses_) == 4 and [d.name for d in fitted.descriptors_] == list(fitted.weights_)


def test_one_shot_uses_fixed_weights_and_observations_are_reusable(scenes):
    det = CompositionalDetector(segmenter="feature-cluster", descriptors="vand", image_size=SIZE, progress=False)
    obs = det.observe([s.image for s in scenes[:1]] + [scenes[5].image])
    assert all(isinstance(o, Observation) for o in obs)
    det.fit(obs[:1])
    assert det.loo_scores_ == {} and det.weights_ == {"patch": 0.15, "foreground-patch": 0.15, "class-histogram": 1.0}
    assert det.threshold_ is None
    pred = det.predict([obs[1]])[0]
    assert list(pred.details.descriptors) == ["patch", "foreground-patch", "class-histogram"]


def test_class_maps_are_saved_as_pictures(predictions, scenes, tmp_path):
    written = save_class_maps(predictions[:1], tmp_path, images=[scenes[4].image], names=["normal"])
    assert [p.name for p in written] == ["normal_classes.png"]
    from PIL import Image

    assert Image.open(written[0]).size == (SIZE, SIZE)


def test_errors_name_the_bad_value_at_fit(scenes):
    two = [s.image for s in scenes[:2]]
    with pytest.raises(ConfigError, match="unknown descriptor 'sharpness'"):
        CompositionalDetector(descriptors="patch,sharpness", progress=False).fit(two)
    with pytest.raises(ConfigError, match="descriptor_options for unknown descriptors \\['nope'\\]"):
        CompositionalDetector(descriptor_options={"nope": {}}, progress=False).fit(two)
    det = CompositionalDetector(segmenter="feature-cluster", reference=5, progress=False)
    with pytest.raises(ConfigError, match="reference index 5 is out of range for 2"):
        det.fit(two)
    with pytest.raises(NotFittedError):
        CompositionalDetector(segmenter="feature-cluster", progress=False).predict([scenes[0].image])
    with pytest.raises(ConfigError, match="at least one"):
        CompositionalDetector(segmenter="feature-cluster", progress=False).fit([])


def test_constructor_only_stores_parameters():
    det = CompositionalDetector(backbone="no-such-backbone", segmenter="no-such-segmenter", descriptors="vand")
    assert det.get_params()["descriptors"] == "vand"
    assert repr(det) == ("CompositionalDetector(backbone='no-such-backbone', segmenter='no-such-segmenter', "
                         "descriptors='vand')")
    assert clone(det).get_params() == det.get_params()
    with pytest.raises(ConfigError, match="unknown segmenter 'no-such-segmenter'"):
        _ = det.segmenter_  # parts are built on first use


def test_parts_are_kept_across_fits_until_their_parameters_change(fitted):
    det = clone(fitted)
    embedder, segmenter = det.embedder_, det.segmenter_
    assert det.embedder_ is embedder and det.segmenter_ is segmenter
    det.set_params(pool=1)
    assert det.embedder_ is not embedder and det.embedder_.pool == 1 and det.segmenter_ is segmenter


def test_ablation_scores_every_descriptor_subset_from_one_pass(predictions, scenes):
    test = scenes[4:]
    kinds = [s.kind if s.label else "" for s in test]
    abl = descriptor_ablation([s.label for s in test], predictions, kinds)
    assert abl["logical/class-histogram"] == 1.0  # the missing pin
    assert "structural/all but class-colour" in abl and "all/vand" in abl
    table = ablation_table([(4, 0, abl), (4, 1, abl)])
    assert "| class-histogram | 100.0 ± 0.0 |" in table and "logical anomalies" in table
    with pytest.raises(ValueError, match="no per-descriptor scores"):
        ablation_table([argparse.Namespace(shots=1, seed=0, details={})])


def _tiny_sam_builder():
    # the tiny-SAM builder lives with the SAM tests; load it from there rather than copy it
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "segment" / "test_segment_sam.py"
    spec = importlib.util.spec_from_file_location("_tiny_sam", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.save_tiny_sam


def _save_tiny_dinov2(transformers, path):
    transformers.Dinov2Model(transformers.Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=14,
        image_size=56)).save_pretrained(path)
    return path


@pytest.mark.slow
def test_sam_and_dinov2_from_local_directories(tmp_path, scenes):
    transformers = pytest.importorskip("transformers")
    dino, sam = _save_tiny_dinov2(transformers, tmp_path / "dino"), _tiny_sam_builder()(tmp_path / "sam")
    det = CompositionalDetector(
        backbone=str(dino), segmenter=str(sam), image_size=112, progress=False,
        segmenter_kwargs=dict(points_per_side=3, pred_iou_thresh=0, stability_score_thresh=0, min_area=0),
    )
    det.fit([s.image for s in scenes[:2]])
    pred = det.predict([scenes[5].image])[0]
    assert np.isfinite(pred.score) and pred.anomaly_map.shape == (SIZE, SIZE)
    assert pred.details.class_map.shape == (112, 112)


@pytest.mark.slow
def test_detect_cli_runs_sam_and_dinov2_from_local_directories(tmp_path, scenes):
    """`defectlab detect --method compositional` with both models given as local dirs, as a user with weights would."""
    import csv

    from defectlab.cli import main
    from defectlab.data.io import save_png_atomic

    transformers = pytest.importorskip("transformers")
    dino, sam = _save_tiny_dinov2(transformers, tmp_path / "dino"), _tiny_sam_builder()(tmp_path / "sam")
    for folder, part in (("normal", scenes[:2]), ("images", scenes[4:6])):
        for i, s in enumerate(part):
            save_png_atomic(tmp_path / folder / f"{i}.png", s.image)
    out = tmp_path / "out"
    code = main(["detect", "--method", "compositional", "--backbone", str(dino), "--segmenter", str(sam),
                 "--sam-points", "3", "--image-size", "112", "--normal", str(tmp_path / "normal"),
                 "--images", str(tmp_path / "images"), "--out", str(out), "--class-maps", "--threshold", "1.0"])
    assert code == 0
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert len(rows) == 2 and all(np.isfinite(float(r["score"])) for r in rows)
    assert len(list((out / "class_maps").glob("*.png"))) >= 2


def test_sum_fusion_is_the_plain_sum_and_normal_scores_follow_the_fusion(fitted, scenes):
    det = clone(fitted).set_params(fusion="sum").fit([s.image for s in scenes[:4]])
    pred = det.predict([scenes[5].image])[0]
    assert pred.score == pytest.approx(sum(v.score for v in pred.details.descriptors.values()))
    # group fusions: every normal shot's group score is at most 1 (its own normaliser is their maximum)
    assert max(fitted.normal_scores()) <= (2 if fitted.fusion == "group-sum" else np.sqrt(2)) + 1e-9
    with pytest.raises(ConfigError, match="fusion"):
        clone(fitted).set_params(fusion="nope").fit([s.image for s in scenes[:2]])
