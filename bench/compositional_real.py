"""Compositional detector on the real-photo LOCO-layout benchmark: per-descriptor ablation, patch kNN beside it.

One command reproduces ``bench/results/compositional_real.md`` (after
generating the benchmark, outside the repository)::

    python -m defectlab.synthetic.real_scenes --out /tmp/real_loco_v2_s12 --seed 12
    python bench/compositional_real.py --root /tmp/real_loco_v2_s12 --out bench/results/compositional_real.md

Support sets follow the VAND protocol (``sample_support`` over the sorted
train/good pool, seeds 42, 0, 1234). Every test image's features and parts
are computed once (``CompositionalDetector.observe``) and reused across shot
counts and seeds. Reported: image AUROC per anomaly kind of the fused score,
of patch kNN (library defaults), and of every descriptor subset (the
ablation, from the same runs: :mod:`defectlab.evaluation.ablation`).

``--dump FILE.npz`` also stores every run's per-descriptor normalised scores
and the support shots' leave-one-out scores, so fusion rules can be compared
offline without re-running the detector.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from defectlab import metrics
from defectlab.data import sample_support
from defectlab.data.datasets.mvtec_loco import MVTecLOCO
from defectlab.detect.compositional import CompositionalDetector
from defectlab.detect.patch_knn import PatchKNNDetector
from defectlab.evaluation.ablation import ablation_table, descriptor_ablation
from defectlab.evaluation.grouping import anomaly_groups

KINDS = ("logical", "structural")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--category", default="real_parts")
    p.add_argument("--shots", nargs="+", type=int, default=[4, 8])
    p.add_argument("--seeds", nargs="+", type=int, default=[42, 0, 1234])
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-knn", action="store_true")
    p.add_argument("--class-maps", type=Path, default=None, help="save class maps of a few test images here")
    p.add_argument("--dump", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--detector", default="{}", help="JSON of CompositionalDetector arguments")
    return p.parse_args(argv)


def loco_test_set(root, category):
    """(dataset, test samples, labels, anomaly kinds: "" for normal) of an MVTec LOCO category on disk."""
    ds = MVTecLOCO(root, category)
    test = ds.test_samples()
    return ds, test, np.array([s.label for s in test]), np.array([s.anomaly_kind or "" for s in test])


def kind_auroc(labels, kinds, scores):
    groups = anomaly_groups(labels, kinds)
    return {kind: metrics.image_auroc(labels[groups[kind]], scores[groups[kind]]) for kind in KINDS}


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    start = time.perf_counter()
    ds, test, labels, kinds = loco_test_set(a.root, a.category)
    pool = ds.train_normals()
    kwargs = json.loads(a.detector)
    det = CompositionalDetector(image_size=a.image_size, progress=False, **kwargs)
    det.observe(pool[:1])  # the working size, from a normal image
    obs = {}
    for path in tqdm(list(pool) + [s.image_path for s in test], desc="observe", unit="img"):
        obs[path] = det.observe([path])[0]
    rows, dump = [], {}
    for k in a.shots:
        for seed in a.seeds:
            support = sample_support(pool, k, seed)
            det.fit([obs[p] for p in support])
            preds = det.predict([obs[s.image_path] for s in test])
            comp = np.array([p.score for p in preds])
            row = {"shots": k, "seed": seed, "comp": kind_auroc(labels, kinds, comp),
                   "ablation": descriptor_ablation(test, preds)}
            names = list(preds[0].details.descriptors)
            dump[f"{k}_{seed}_scores"] = np.array([[p.details.descriptors[n].score for n in names] for p in preds])
            dump[f"{k}_{seed}_loo"] = np.array([np.array(det.loo_scores_[n]) / det.weights_[n] for n in names]) \
                if det.loo_scores_ else np.zeros((len(names), 0))
            dump["names"] = np.array(names)
            if not a.no_knn:
                knn = PatchKNNDetector(image_size=a.image_size, progress=False).fit(support)
                ks = np.array([p.score for p in knn.predict([s.image_path for s in test])])
                row["knn"] = kind_auroc(labels, kinds, ks)
                dump[f"{k}_{seed}_knn"] = ks
            rows.append(row)
            print(k, seed, {m: {kk: round(100 * v, 1) for kk, v in row[m].items()} for m in ("comp", "knn") if m in row},
                  flush=True)
            if a.class_maps is not None and k == a.shots[0] and seed == a.seeds[0]:
                from defectlab.detect.explain import save_class_maps
                from defectlab.segment.visualize import save_class_map

                pick = [i for kind in ("", "logical", "structural") for i in np.flatnonzero(kinds == kind)[:3]]
                save_class_maps([preds[i] for i in pick], a.class_maps, [obs[test[i].image_path].image for i in pick],
                                [f"{kinds[i] or 'good'}_{Path(test[i].image_path).stem}" for i in pick])
                for j, p in enumerate(support[:2]):
                    o = obs[p]
                    save_class_map(a.class_maps / f"support{j}_segments.png", o.segmentation.labels, None, o.image)
    if a.dump:
        np.savez(a.dump, labels=labels, kinds=kinds, **dump)
    seconds = time.perf_counter() - start
    text = render(a, rows, seconds)
    print(text)
    if a.out:
        a.out.write_text(text)
    return 0


def pm(values):
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def render(a, rows, seconds) -> str:
    lines = [
        "# Compositional detector on the real-photo LOCO-layout benchmark: ablation",
        "",
        f"Reproduce: `python bench/compositional_real.py --root {a.root} --shots {' '.join(map(str, a.shots))}`"
        f" ({seconds / 60:.1f} min, torch threads {a.threads}); detector arguments {a.detector}.",
        "",
        "| shots | kind | compositional | patch kNN |",
        "|---|---|---|---|",
    ]
    for k in a.shots:
        for kind in KINDS:
            c = [r["comp"][kind] for r in rows if r["shots"] == k]
            p = [r["knn"][kind] for r in rows if r["shots"] == k and "knn" in r]
            lines.append(f"| {k} | {kind} | {pm(c)} | {pm(p) if p else '-'} |")
    lines += ["", ablation_table([(r["shots"], r["seed"], r["ablation"]) for r in rows])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
