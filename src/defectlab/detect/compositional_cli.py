"""Command-line pieces of the compositional method, for ``defectlab detect`` / ``evaluate``.

The CLI module wires them in a few lines::

    add_compositional_arguments(parser)          # --segmenter --aligner --descriptors ...
    kwargs = compositional_kwargs(args)          # -> CompositionalDetector(**kwargs)
    details = {"ablation": descriptor_ablation(test_samples, predictions)}  # per run
    print(ablation_table(results))               # evaluate --ablation

The ablation needs no re-run: every prediction carries each descriptor's
normalised score, and the fused score of any subset is the sum of its
members' scores (that is what the fusion is), so one pass scores every
subset.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from ..segment.registry import ALIGNERS, SEGMENTERS
from .descriptors import DESCRIPTORS, PRESETS, resolve


def add_compositional_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("compositional method (--method compositional)")
    g.add_argument("--segmenter", default="auto",
                   help=f"{', '.join(SEGMENTERS)}, or a SAM checkpoint dir / hub id (default: %(default)s: SAM when "
                        "its weights are on this machine, else the offline feature-cluster segmenter)")
    g.add_argument("--aligner", default="hungarian", choices=ALIGNERS,
                   help="how parts get class ids shared across images (default: %(default)s)")
    g.add_argument("--descriptors", default="full",
                   help=f"preset ({', '.join(PRESETS)}) or comma-separated names from: {', '.join(DESCRIPTORS)} "
                        "(default: %(default)s)")
    g.add_argument("--sam-model", default=None,
                   help="SAM checkpoint (hub id or local dir) for --segmenter sam/auto "
                        "(default: facebook/sam-vit-base)")
    g.add_argument("--sam-points", type=int, default=None, help="SAM prompt grid points per side (default: 16)")
    g.add_argument("--propagator-model", default=None,
                   help="SAM 2 checkpoint (hub id or local dir) for --aligner sam2 "
                        "(default: facebook/sam2.1-hiera-tiny)")
    g.add_argument("--reference", type=int, default=0,
                   help="index of the normal image whose parts define the classes (default: %(default)s)")
    g.add_argument("--class-maps", action="store_true",
                   help="also save each image's class map as a coloured PNG (inspection of segmentation + alignment)")


def compositional_kwargs(args: argparse.Namespace) -> dict:
    """``CompositionalDetector`` keyword arguments from parsed arguments (shared ones included)."""
    resolve(args.descriptors)  # fail now, with the list of valid names, not after loading models
    kw: dict = dict(
        backbone=args.backbone,
        segmenter=args.segmenter,
        aligner=args.aligner,
        descriptors=args.descriptors,
        reference=args.reference,
    )
    for name in ("resize", "device"):
        if getattr(args, name, None) is not None:
            kw[name] = getattr(args, name)
    if getattr(args, "image_size", None):
        kw["image_size"] = args.image_size
    seg_kw = {}
    if args.sam_model:
        seg_kw["model"] = args.sam_model
    if args.sam_points:
        seg_kw["points_per_side"] = args.sam_points
    if seg_kw:
        kw["segmenter_kwargs"] = seg_kw
    if args.propagator_model:
        if args.aligner != "sam2":
            raise ValueError(f"--propagator-model is for --aligner sam2, not --aligner {args.aligner}")
        kw["aligner_kwargs"] = {"model": args.propagator_model}
    return kw


# -- ablation -------------------------------------------------------------------
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
    from ..metrics import image_auroc

    items = list(samples_or_labels)
    if items and hasattr(items[0], "label"):
        labels = np.array([s.label for s in items])
        kinds = [getattr(s, "anomaly_kind", "") or "" for s in items]
    else:
        labels = np.asarray(items)
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels for {len(predictions)} predictions")
    per = [getattr(p.details, "descriptors", None) for p in predictions]
    if any(d is None for d in per):
        raise ValueError("descriptor ablation needs compositional predictions (their details have no descriptors)")
    names = list(per[0])
    scores = np.array([[d[n].score for n in names] for d in per])
    normal = labels == 0
    groups = {"all": np.ones(len(labels), bool)}
    for kind in sorted({k for k in (kinds or []) if k}):
        groups[kind] = normal | np.array([k == kind for k in kinds])
    out = {}
    for subset, members in ablation_subsets(names).items():
        fused = scores[:, [names.index(m) for m in members]].sum(1)
        for group, keep in groups.items():
            if normal[keep].all() or not normal[keep].any():
                continue
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
        abl = getattr(r, "details", {}).get("ablation")
        if abl is None:
            raise ValueError(
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
                cells.append(_pm(per_seed))
            lines.append(f"| {subset} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _pm(values: list[float]) -> str:
    if not values:
        return "-"
    mean = 100 * float(np.mean(values))
    return f"{mean:.1f} ± {100 * float(np.std(values)):.1f}" if len(values) > 1 else f"{mean:.1f}"


def save_class_maps_for(predictions, out_dir: str | Path, images=None) -> list[Path]:
    """``--class-maps``: write ``<stem>_classes.png`` per prediction into ``out_dir``."""
    from .explain import save_class_maps

    return save_class_maps(predictions, out_dir, images)
