"""Descriptor ablation of the compositional detector, from one pass.

The ablation needs no re-run: every prediction carries each descriptor's
normalised score, and the fused score of any subset is the sum of its
members' scores (that is what the fusion is), so one pass scores every
subset. ``defectlab evaluate --ablation`` stores
``descriptor_ablation(test, predictions)`` per run and prints
``ablation_table(results)``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from ..detect.descriptors import PRESETS
from ..errors import ConfigError
from ..metrics import image_auroc
from .grouping import anomaly_groups
from .tables import mean_std


def ablation_subsets(names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each descriptor alone, the presets, and the full set without each one."""
    names = tuple(names)
    subsets: dict[str, tuple[str, ...]] = {n: (n,) for n in names}
    for preset, members in PRESETS.items():
        if set(members) <= set(names):
            subsets[preset] = tuple(members)
    if len(names) > 1:
        for n in names:
            subsets[f"all but {n}"] = tuple(m for m in names if m != n)
    return subsets


def descriptor_ablation(samples_or_labels, predictions, kinds: Sequence[str] | None = None) -> dict[str, float]:
    """Image AUROC of every descriptor subset, overall and per anomaly kind.

    ``samples_or_labels``: the test samples (with ``.label`` and, if any,
    ``.anomaly_kind``) or plain 0/1 labels with ``kinds`` beside them
    ("logical", "structural", "" for normal). Returns
    ``{"<group>/<subset>": auroc}``, group "all" and each kind.
    """
    items = list(samples_or_labels)
    if items and hasattr(items[0], "label"):
        labels = np.array([s.label for s in items])
        kinds = [getattr(s, "anomaly_kind", "") or "" for s in items]
    else:
        labels = np.asarray(items)
    if len(labels) != len(predictions):
        raise ConfigError(f"{len(labels)} labels for {len(predictions)} predictions")
    per = [getattr(p.details, "descriptors", None) for p in predictions]
    if any(d is None for d in per):
        raise ConfigError("descriptor ablation needs compositional predictions (their details have no descriptors)")
    names = list(per[0])
    scores = np.array([[d[n].score for n in names] for d in per])
    groups = anomaly_groups(labels, kinds or [""] * len(labels))
    out = {}
    for subset, members in ablation_subsets(names).items():
        fused = scores[:, [names.index(m) for m in members]].sum(1)
        for group, keep in groups.items():
            out[f"{group}/{subset}"] = float(image_auroc(labels[keep], fused[keep]))
    return out


def ablation_table(results) -> str:
    """Markdown: image AUROC (%) of each descriptor subset per shots, mean ± std over seeds.

    ``results`` are run results whose ``details["ablation"]`` holds a
    :func:`descriptor_ablation` dict (categories are averaged within a seed
    first), or ``(shots, seed, ablation_dict)`` tuples.
    """
    runs = []
    for r in results:
        if isinstance(r, tuple):
            runs.append(r)
            continue
        abl = (getattr(r, "details", None) or {}).get("ablation")
        if abl is None:
            raise ConfigError(
                "no per-descriptor scores in these results: store "
                "details['ablation'] = descriptor_ablation(test_samples, predictions) for each compositional run"
            )
        runs.append((r.shots, r.seed, abl))
    if not runs:
        return ""
    # (group, subset) -> shots -> seed -> [values over categories]
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for shots, seed, abl in runs:
        for key, value in abl.items():
            group, subset = key.split("/", 1)
            table[(group, subset)][shots][seed].append(value)
    shots_all = sorted({s for s, _, _ in runs})
    groups = sorted({g for g, _ in table}, key=lambda g: (g != "all", g))
    lines = []
    for group in groups:
        subsets = [s for (g, s) in table if g == group]
        lines.append(f"**Descriptor ablation, image AUROC (%), {group} anomalies vs normal**\n")
        lines.append("| descriptors | " + " | ".join(f"{k}-shot" for k in shots_all) + " |")
        lines.append("|---|" + "---|" * len(shots_all))
        for subset in subsets:
            cells = []
            for k in shots_all:
                per_seed = [np.mean(v) for v in table[(group, subset)][k].values()]
                cells.append(mean_std(per_seed))
            lines.append(f"| {subset} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
