"""Fusion rules compared offline on a dump of ``bench/compositional_real.py --dump`` (development only).

    python bench/compositional_real.py --root /tmp/real_loco_v2_s11 --dump /tmp/dev_s11.npz
    python bench/compositional_real_fusion.py /tmp/dev_s11.npz [--root /tmp/real_loco_v2_s11]

The dump holds, per (shots, seed), every test image's normalised descriptor
scores and the support shots' normalised leave-one-out scores, so each rule
below is applied exactly as the detector would (groups self-normalised by
their largest leave-one-out group score, floored as in
:func:`defectlab.detect.fusion.group_weights`). Prints image AUROC per
anomaly kind (and with ``--root`` per anomaly type / structural part class,
from the benchmark's rules.json). Used on the development seed only; the
rule chosen from it is ``fusion.DEFAULT_MODE``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from defectlab.detect import fusion
from defectlab.detect.descriptors import STRUCTURAL
from defectlab.evaluation.grouping import anomaly_groups
from defectlab.metrics import image_auroc


def rules(names):
    s = [i for i, n in enumerate(names) if n in STRUCTURAL]
    lg = [i for i in range(len(names)) if i not in s]

    no_cp = [i for i in s if names[i] != "class-patch"]  # the default preset's structural group

    def gnorm(x, loo, idx):
        w = max(float(loo[idx].sum(0).max()) if loo.shape[1] else float(len(idx)), fusion.FLOOR * len(idx))
        return x[:, idx].sum(1) / w

    def znorm(x, loo, idx):  # the group's distance from its leave-one-out mean in its standard deviations
        g = loo[idx].sum(0)
        return (x[:, idx].sum(1) - g.mean()) / max(float(g.std()), 0.05 * len(idx))

    def member_max(x, loo, idx):  # the group's strongest member, over that member's worst leave-one-out score
        return x[:, idx].max(1) / max(float(loo[idx].max()), fusion.FLOOR)

    return {
        "sum (reference)": lambda x, loo: x.sum(1),
        "structural only": lambda x, loo: x[:, s].sum(1),
        "logical only": lambda x, loo: x[:, lg].sum(1),
        "max of raw group sums": lambda x, loo: np.maximum(x[:, s].sum(1), x[:, lg].sum(1)),
        "group-max": lambda x, loo: np.maximum(gnorm(x, loo, s), gnorm(x, loo, lg)),
        "group-sum": lambda x, loo: gnorm(x, loo, s) + gnorm(x, loo, lg),
        "group-l2": lambda x, loo: np.hypot(gnorm(x, loo, s), gnorm(x, loo, lg)),
        "max descriptor": lambda x, loo: x.max(1),
        # the session-19 candidates on the rules-3 development seed (bench/results/compositional_real.md)
        "z-sum": lambda x, loo: znorm(x, loo, s) + znorm(x, loo, lg),
        "z-max": lambda x, loo: np.maximum(znorm(x, loo, s), znorm(x, loo, lg)),
        "structural max + logical sum": lambda x, loo: member_max(x, loo, s) + gnorm(x, loo, lg),
        "group-sum without class-patch (default)": lambda x, loo: gnorm(x, loo, no_cp) + gnorm(x, loo, lg),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dump", type=Path)
    p.add_argument("--root", type=Path, default=None)
    a = p.parse_args(argv)
    d = np.load(a.dump, allow_pickle=True)
    names, labels, kinds = list(d["names"]), d["labels"], d["kinds"]
    keys = sorted({k.rsplit("_", 1)[0] for k in d.files if k.endswith("_scores")},
                  key=lambda s: tuple(map(int, s.split("_"))))
    tags = None
    if a.root is not None:
        from defectlab.data.datasets.mvtec_loco import MVTecLOCO

        info = json.loads((a.root / "real_parts" / "rules.json").read_text())["images"]
        tags = []
        for s in MVTecLOCO(a.root, "real_parts").test_samples():
            x = info["/".join(Path(s.image_path).parts[-3:])]
            tags.append("" if not s.label else x["anomaly"] if x["anomaly"] != "structural" else "S:" + x["part"])
        tags = np.array(tags)
    table = rules(names)
    print("| rule | shots | logical | structural | mean |" + ("" if tags is None else " per type |"))
    print("|---|---|---|---|---|" + ("" if tags is None else "---|"))
    for name, rule in [*table.items(), ("patch kNN", None)]:
        for k in sorted({key.split("_")[0] for key in keys}, key=int):
            vals, per = [], {}
            for key in [key for key in keys if key.split("_")[0] == k]:
                if rule is None and key + "_knn" not in d:
                    continue
                sc = d[key + "_knn"] if rule is None else rule(d[key + "_scores"], d[key + "_loo"])
                groups = anomaly_groups(labels, kinds)
                vals.append([image_auroc(labels[groups[g]], sc[groups[g]]) for g in ("logical", "structural")])
                if tags is not None:
                    for t, keep in anomaly_groups(labels, tags).items():
                        if t != "all":
                            per.setdefault(t, []).append(image_auroc(labels[keep], sc[keep]))
            if not vals:
                continue
            v = 100 * np.array(vals)
            line = f"| {name} | {k} | {v[:, 0].mean():.1f} ± {v[:, 0].std():.1f} | {v[:, 1].mean():.1f} ± " \
                   f"{v[:, 1].std():.1f} | {v.mean():.1f} |"
            if tags is not None:
                line += " " + ", ".join(f"{t} {100 * np.mean(x):.0f}" for t, x in per.items()) + " |"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
