"""The comparison table on the real-photo LOCO-layout benchmark: compositional vs patch kNN vs ComAD vs WinCLIP.

One command (after generating the benchmark outside the repository)::

    python -m defectlab.synthetic.real_scenes --out /tmp/real_loco_v3_s32 --seed 32
    python bench/compositional_real_compare.py --root /tmp/real_loco_v3_s32 \
        --out bench/results/compositional_real_compare_v3_s32.md

Methods, all at their library defaults on the offline default backbone
(EfficientNet-Lite0) unless said otherwise:

- ``compositional``: :class:`CompositionalDetector` (feature-cluster
  segmenter, codebook alignment, the default six descriptors, default fusion;
  the ablation below covers those six: all seven with
  ``bench/compositional_real.py --detector '{"descriptors": "full"}'``);
- ``patch-knn``: AnomalyDINO-style patch kNN; ``patch-knn-fg``: the same
  with its PCA foreground masking (``foreground="pca"``);
- ``comad``: the ComAD-style baseline (:mod:`defectlab.detect.comad`);
- ``winclip``: WinCLIP-style (:mod:`defectlab.detect.winclip`) from the CLIP
  checkpoint ``--clip-model`` (a local directory or a hub id in the local
  cache); when none is on the machine the table says "weights not found".

Support sets: the VAND protocol (``sample_support`` over the sorted
train/good pool) for each seed. Reported per anomaly kind (each against all
normal test images): image AUROC and F1-max, with the F1 floor (the F1 of
flagging every image), mean ± std over seeds, in %. Shot counts run in the
order given (``--shots 4 8 1 2`` runs the done-when's first); the table is
rewritten after each, so an interrupted run still leaves what it measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from compositional_real import loco_test_set  # the sibling bench: the same test set and labels
from defectlab import metrics
from defectlab.data import sample_support
from defectlab.detect.comad import ComADDetector
from defectlab.detect.compositional import CompositionalDetector
from defectlab.detect.patch_knn import PatchKNNDetector
from defectlab.errors import ModelNotFoundError
from defectlab.evaluation.ablation import ablation_table, descriptor_ablation
from defectlab.evaluation.grouping import anomaly_groups

KINDS = ("logical", "structural")
METHODS = ("compositional", "patch-knn", "patch-knn-fg", "comad", "winclip")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--category", default="real_parts")
    p.add_argument("--shots", nargs="+", type=int, default=[4, 8, 1, 2])
    p.add_argument("--seeds", nargs="+", type=int, default=[42, 0, 1234])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--clip-model", default=None, help="CLIP checkpoint for winclip (default: its DEFAULT_CLIP)")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "compositional_real_compare.md")
    return p.parse_args(argv)


def measure(labels, kinds, scores) -> dict:
    out = {}
    groups = anomaly_groups(labels, kinds)
    for kind in KINDS:
        keep = groups[kind]
        out[(kind, "auroc")] = metrics.image_auroc(labels[keep], scores[keep])
        out[(kind, "f1")] = metrics.f1_max(labels[keep], scores[keep]).f1
        out[(kind, "floor")] = metrics.f1_floor(labels[keep])
    return out


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    start = time.perf_counter()
    ds, test, labels, kinds = loco_test_set(a.root, a.category)
    paths = [s.image_path for s in test]
    pool = ds.train_normals()
    results: dict = {}  # (method, shots) -> [per-seed measure dicts]
    notes: dict[str, str] = {}
    seconds: dict[str, float] = {}
    comp = obs = None
    ablations: list = []  # (shots, seed, descriptor ablation) of the compositional runs
    if "compositional" in a.methods:
        comp = CompositionalDetector(image_size=a.image_size, progress=False)
        comp.observe(pool[:1])
        t0 = time.perf_counter()
        obs = {p: comp.observe([p])[0] for p in tqdm(list(pool) + paths, desc="observe", unit="img")}
        seconds["compositional (features + parts, once per image)"] = time.perf_counter() - t0
    for k in a.shots:
        for seed in a.seeds:
            support = sample_support(pool, k, seed)
            for method in a.methods:
                if method in notes:
                    continue
                t0 = time.perf_counter()
                try:
                    scores, preds = run(method, a, support, paths, comp, obs)
                except ModelNotFoundError as err:
                    notes[method] = f"weights not found: {str(err).splitlines()[0]}"
                    continue
                seconds[method] = seconds.get(method, 0.0) + time.perf_counter() - t0
                results.setdefault((method, k), []).append(measure(labels, kinds, scores))
                if method == "compositional":
                    ablations.append((k, seed, descriptor_ablation(test, preds)))
                m = results[(method, k)][-1]
                print(f"{k}-shot seed {seed} {method}: "
                      + ", ".join(f"{kind} {100 * m[(kind, 'auroc')]:.1f}" for kind in KINDS), flush=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        text = render(a, results, notes, seconds, time.perf_counter() - start, len(test), labels, kinds)
        if ablations:
            text += ("\n## Compositional: per-descriptor ablation (same runs)\n\nEach subset's score is the sum of "
                     "its members' normalised scores (the reference's fusion), so it is read beside the default "
                     "fusion's row above.\n\n" + ablation_table(ablations))
        a.out.write_text(text)
    print(a.out.read_text())
    return 0


def run(method, a, support, paths, comp, obs) -> np.ndarray:
    if method == "compositional":
        comp.fit([obs[p] for p in support])
        preds = comp.predict([obs[p] for p in paths])
        return np.array([p.score for p in preds]), preds
    if method in ("patch-knn", "patch-knn-fg"):
        det = PatchKNNDetector(image_size=a.image_size, foreground="pca" if method == "patch-knn-fg" else "none",
                               progress=False)
    elif method == "comad":
        det = ComADDetector(image_size=a.image_size, progress=False)
    else:
        from defectlab.detect.winclip import DEFAULT_CLIP, WinCLIPDetector

        det = WinCLIPDetector(model=a.clip_model or DEFAULT_CLIP, progress=False)
    det.fit(support)
    preds = det.predict(paths)
    return np.array([p.score for p in preds]), preds


def pm(values) -> str:
    if not values:
        return "-"
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def render(a, results, notes, seconds, total, n_test, labels, kinds) -> str:
    counts = {kind: int((kinds == kind).sum()) for kind in KINDS}
    lines = [
        "# Real-photo LOCO-layout benchmark: compositional vs patch kNN vs ComAD vs WinCLIP",
        "",
        f"Reproduce: `python bench/compositional_real_compare.py --root {a.root} --shots "
        f"{' '.join(map(str, a.shots))} --seeds {' '.join(map(str, a.seeds))}` "
        f"({total / 60:.1f} min so far on this machine, torch threads {a.threads}).",
        "",
        f"Test set: {int((labels == 0).sum())} normal, {counts['logical']} logical, {counts['structural']} structural "
        f"images ({n_test} in all). Values: mean ± std over seeds {', '.join(map(str, a.seeds))} of the support draw, "
        "in %. F1-max never falls below its floor (the F1 of flagging every image anomalous).",
        "",
    ]
    shots_done = [k for k in a.shots if any((m, k) in results for m in a.methods)]
    for kind in KINDS:
        lines += [f"## {kind.capitalize()} anomalies vs normal", "",
                  "| method | " + " | ".join(f"{k}-shot AUROC | {k}-shot F1-max" for k in shots_done) + " |",
                  "|---|" + "---|---|" * len(shots_done)]
        for method in a.methods:
            if method in notes:
                lines.append(f"| {method} | " + " | ".join([notes[method].split(":")[0], "-"] * len(shots_done)) + " |")
                continue
            cells = []
            for k in shots_done:
                runs = results.get((method, k), [])
                cells += [pm([r[(kind, "auroc")] for r in runs]), pm([r[(kind, "f1")] for r in runs])]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        floor = next((r[(kind, "floor")] for v in results.values() for r in v), None)
        if floor is not None:
            lines.append("| F1 floor | " + " | ".join(["", f"{100 * floor:.1f}"] * len(shots_done)) + " |")
        lines.append("")
    runs_done = {m: sum(len(results.get((m, k), [])) for k in a.shots) for m in a.methods}
    lines += ["## What ran", "",
              *[f"- {m}: {notes[m]}" if m in notes else f"- {m}: {runs_done[m]} runs "
                f"({', '.join(f'{k}-shot x {len(results.get((m, k), []))}' for k in shots_done)})"
                for m in a.methods],
              "", "CPU seconds (fit + scoring, all runs): "
              + ", ".join(f"{m} {s:.0f}" for m, s in seconds.items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
