"""Few-shot evaluation engine: dataset x shots x seeds -> metric table.

For every (category, shots, seed) the support set is drawn from the normal
training images with the VAND 2025 protocol, a fresh detector is fitted on it
and every test image is scored. Image metrics are reported per anomaly type
(that type vs all normal test images) and overall; pixel metrics wherever the
dataset has masks; sPRO for MVTec LOCO.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from tqdm.auto import tqdm

from .. import metrics
from ..data import load_gt_mask, load_gt_masks_separate, sample_support
from ..data.checks import int_in_range, positive_int
from ..data.sample import Sample
from ..data.sampling import SEED_RANGE, evenly_spaced
from ..detect import Detector, Prediction, chunk_size, clone
from ..errors import ConfigError, DataError
from .grouping import anomaly_groups


@dataclass
class RunResult:
    category: str
    shots: int
    seed: int
    metrics: dict[str, float] = field(default_factory=dict)  # "image_auroc/crack", "pixel_aupro/all", ...
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


def evaluate_run(
    detector: Detector,
    support: list,
    test: list[Sample],
    pixel: bool = True,
    defects_config: dict | None = None,
    progress: bool = True,
) -> tuple[dict[str, float], list[Prediction]]:
    """Fit on ``support``, score ``test``, return (metrics, predictions)."""
    detector.fit(support)
    predictions = []
    with tqdm(total=len(test), desc="  test images", unit="img", leave=False, disable=not progress) as bar:
        # a few images per call let the detector score them side by side (detect.parallel)
        size = chunk_size(detector)
        for first in range(0, len(test), size):
            chunk = test[first : first + size]
            predictions += detector.predict([sample.image_path for sample in chunk])
            bar.update(len(chunk))
    return score_predictions(test, predictions, pixel=pixel, defects_config=defects_config), predictions


def score_predictions(
    test: list[Sample], predictions: list[Prediction], pixel: bool = True, defects_config: dict | None = None
) -> dict[str, float]:
    labels = np.array([s.label for s in test])
    scores = np.array([p.score for p in predictions])
    out: dict[str, float] = {}
    groups = anomaly_groups(labels, [s.anomaly_kind for s in test], [s.anomaly_type for s in test])
    for name, keep in groups.items():
        out[f"image_auroc/{name}"] = metrics.image_auroc(labels[keep], scores[keep])
        out[f"image_ap/{name}"] = metrics.image_ap(labels[keep], scores[keep])
        out[f"f1_max/{name}"] = metrics.f1_max(labels[keep], scores[keep]).f1
        out[f"f1_floor/{name}"] = metrics.f1_floor(labels[keep])
    has_masks = any(s.mask_paths for s in test if s.label == 1)
    if pixel and has_masks:
        masks = [load_gt_mask(s, shape=p.anomaly_map.shape) for s, p in zip(test, predictions)]
        maps = [p.anomaly_map for p in predictions]
        out["pixel_auroc/all"] = metrics.pixel_auroc(masks, maps)
        out["pixel_ap/all"] = metrics.pixel_ap(masks, maps)
        out["pixel_aupro/all"] = metrics.aupro(masks, maps)
        if defects_config:
            out.update(_spro(test, predictions, defects_config))
    return out


def _spro(test: list[Sample], predictions: list[Prediction], defects_config: dict) -> dict[str, float]:
    gts, thresholds = [], []
    for sample in test:
        regions = load_gt_masks_separate(sample) if sample.label == 1 else []
        gts.append([mask for mask, _ in regions])
        unknown = {value for _, value in regions} - set(defects_config)
        if unknown:
            raise DataError(f"{sample.image_path}: mask pixel value(s) {sorted(unknown)} are not in "
                             "defects_config.json; sPRO needs a saturation threshold for every defect type")
        thresholds.append([metrics.saturation_pixels(mask, *defects_config[value]) for mask, value in regions])
    maps = [p.anomaly_map for p in predictions]
    return {"pixel_spro/all": metrics.spro(gts, maps, thresholds, fpr_limit=0.05)}


def evaluate(
    dataset,
    detector: Detector,
    shots: list[int],
    seeds: list[int],
    max_test: int | None = None,
    pixel: bool = True,
    progress: bool = True,
    run_details: Callable[[list[Sample], list[Prediction]], dict] | None = None,
) -> list[RunResult]:
    """Every (shots, seed) run on one dataset category; each run fits an unfitted clone of ``detector``.

    ``run_details(test, predictions)``, if given, computes extra per-run
    results from the predictions (the compositional descriptor ablation).
    """
    shots = _int_list("shots", shots, positive_int)
    seeds = _int_list("seeds", seeds, lambda name, seed: int_in_range(name, seed, *SEED_RANGE))
    test = dataset.test_samples()
    if max_test is not None:
        # An even, deterministic subsample keeps every anomaly type represented.
        test = evenly_spaced(test, positive_int("max_test", max_test))
    pool = dataset.train_normals()
    if max(shots) > len(pool):
        raise DataError(f"shots {max(shots)} needs {max(shots)} normal training images, but {_name(dataset)} "
                        f"has {len(pool)}; pass shots of at most {len(pool)}")
    defects_config = None
    if getattr(dataset, "defects_config", None):  # MVTec LOCO: sPRO needs each defect type's saturation
        defects_config = metrics.load_defects_config(dataset.root / dataset.category / "defects_config.json")
    results = []
    runs = [(k, seed) for k in shots for seed in seeds]
    for k, seed in tqdm(runs, desc=f"{dataset.category or dataset.name}", unit="run", disable=not progress):
        support = sample_support(pool, k, seed)
        # Layouts without separate train/test folders draw support from the
        # test pool; an image must never be scored against itself.
        support_paths = set(support)
        held_out = [s for s in test if s.image_path not in support_paths]
        _check_both_labels(held_out, dataset, len(test) - len(held_out))
        start = time.perf_counter()
        values, predictions = evaluate_run(clone(detector), support, held_out, pixel, defects_config, progress)
        details = run_details(held_out, predictions) if run_details else {}
        results.append(RunResult(dataset.category, k, seed, values, time.perf_counter() - start, details))
    return results


def _int_list(name: str, values, check) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(f"{name} must be a list of integers, got {values!r}")
    checked = [check(name, value) for value in values]
    if not checked:
        raise ConfigError(f"{name} must hold at least one value")
    return checked


def _check_both_labels(test: list[Sample], dataset, held_back: int) -> None:
    """Image metrics compare anomalous with normal test images; say which is missing, and where."""
    present = {s.label for s in test}
    missing = [what for label, what in ((0, "normal"), (1, "anomalous")) if label not in present]
    if missing:
        why = f" once the {held_back} support images are held out of it" if held_back else ""
        raise DataError(f"{_name(dataset)} has no {missing[0]} test image{why}; image metrics compare normal "
                        "with anomalous test images (check the dataset layout, max_test and shots)")


def _name(dataset) -> str:
    return f"{dataset.name} {dataset.category!r} at {dataset.root}"
