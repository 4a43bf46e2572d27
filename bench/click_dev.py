"""ADClick development score: synthetic defects on normal images no training run ever sees.

    python bench/click_dev.py --checkpoint A.safetensors --checkpoint B.safetensors

Choosing between training settings by the held-out classes would tune the
model to them; this score is what settings are chosen by instead (together
with the validation mIoU in each checkpoint's JSON, measured on held-back
images of the training classes). Each of ``synth.KINDS`` is drawn in turn
onto normal images of the dataset's *test* split (training draws its
synthetic defects on train-split normals) and the simulated user clicks up
to ``--clicks`` times, without a prompt. Reported per kind and overall:
mIoU after 1, 3 and 5 clicks and NoC@85 (capped at ``--clicks``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/magnetic_tile")
    ap.add_argument("--dataset", default="magnetic-tile")
    ap.add_argument("--category", default=None)
    ap.add_argument("--checkpoint", action="append", default=None, help="repeatable; default: the shipped checkpoint")
    ap.add_argument("--images", type=int, default=48, help="synthetic defects in all, the kinds taking turns")
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--normals", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from defectlab.click.baselines import ImageContext
    from defectlab.click.evaluate import ADClickMethod, simulate
    from defectlab.click.residual import NormalReference
    from defectlab.click.session import ClickModel
    from defectlab.click.synth import KINDS, synthesize
    from defectlab.data import get_dataset, load_image, sample_support

    ds = get_dataset(args.dataset, args.root, args.category)
    bases = [s.image_path for s in ds.test_samples() if s.label == 0]
    if len(bases) < 2:
        raise SystemExit(f"{args.dataset} at {args.root} has {len(bases)} normal test images; need at least 2")
    reference = NormalReference(sample_support(ds.train_normals(), args.normals, seed=0), progress=False)
    cases = []
    for i in range(args.images):
        kind = KINDS[i % len(KINDS)]
        base, donor = bases[(5 * i) % len(bases)], bases[(5 * i + 2) % len(bases)]
        image, mask, _ = synthesize(load_image(base), np.random.default_rng([123, i]), kind=kind, donor=load_image(donor))
        cases.append((kind, image, mask, reference.features(image)))

    lines = ["| checkpoint | kind | images | mIoU@1 | mIoU@3 | mIoU@5 | NoC@85 |", "|---|---|---|---|---|---|---|"]
    for ckpt in args.checkpoint or [None]:
        method = ADClickMethod(ClickModel(ckpt), use_prompt=False)
        method.reference = reference
        per_kind: dict[str, list] = {}
        for kind, image, mask, feats in cases:
            method.start(ImageContext(image, prompt=None, features=feats))
            ious = simulate(method, mask, max_clicks=args.clicks, stop_iou=1.1).ious
            noc = next((k + 1 for k, v in enumerate(ious) if v >= 0.85), args.clicks)
            per_kind.setdefault(kind, []).append((ious[0], ious[2], ious[4], noc))
        per_kind["all"] = [v for vs in per_kind.values() for v in vs]
        name = Path(ckpt).parent.name + "/" + Path(ckpt).name if ckpt else "shipped"
        for kind, rows in per_kind.items():
            m = np.mean(rows, axis=0)
            lines.append(f"| {name} | {kind} | {len(rows)} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.2f} |")
        print("\n".join(lines[-len(per_kind):]), flush=True)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
