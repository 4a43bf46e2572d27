"""ADClick development score: synthetic defects on normal images no training run ever sees.

    python bench/click_dev.py --checkpoint A.safetensors --checkpoint B.safetensors

Choosing between training settings by the held-out classes would tune the
model to them; this score is what settings are chosen by instead (together
with the validation mIoU in each checkpoint's JSON, measured on held-back
images of the training classes). Each of ``synth.KINDS`` is drawn in turn
onto normal images of the dataset's *test* split (training draws its
synthetic defects on train-split normals) and the simulated user clicks up
to ``--clicks`` times, without a prompt. Reported per kind and overall, as
click-eval reports (``evaluate.summarize``): NoC@80/85/90 (capped at
``--clicks``), mIoU after 1, 3 and 5 clicks, AP after 3 and 5.
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
    ap.add_argument("--keep-rejected", action="store_true", help="also score each checkpoint with drop_rejected=False")
    ap.add_argument("--no-fill", action="store_true", help="also score each checkpoint with fill=False (no fill between clicks)")
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from defectlab.click.residual import NormalReference
    from defectlab.click.session import ClickModel
    from defectlab.data import get_dataset, sample_support
    from defectlab.evaluation.click_baselines import ImageContext
    from defectlab.evaluation.interactive import ADClickMethod, class_rows, markdown_table, simulate

    ds = get_dataset(args.dataset, args.root, args.category)
    reference = NormalReference(sample_support(ds.train_normals(), args.normals, seed=0), progress=False)
    cases = dev_cases(ds, reference, args.images, f"{args.dataset} at {args.root}")

    rows = []
    for ckpt in args.checkpoint or [None]:
        model = ClickModel(ckpt)
        variants = [("", {})] + [(" keep-rejected", {"drop_rejected": False})] * args.keep_rejected + [(" no-fill", {"fill": False})] * args.no_fill
        for suffix, options in variants:
            method = ADClickMethod(model, use_prompt=False, **options)
            method.reference = reference
            records = []
            for kind, image, mask, feats in cases:
                method.start(ImageContext(image, prompt=None, features=feats))
                records.append((kind, simulate(method, mask, max_clicks=args.clicks), mask))
            name = (Path(ckpt).parent.name + "/" + Path(ckpt).name if ckpt else "shipped") + suffix
            rows += class_rows(name, records, args.clicks)
    table = markdown_table(rows)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


def dev_cases(ds, reference, n: int, name: str) -> list[tuple]:
    """(kind, image, mask, features) for ``n`` synthetic defects on ``ds``'s normal test images, kinds in turn."""
    from defectlab.data import load_image
    from defectlab.synthetic.defects import KINDS, synthesize

    bases = [s.image_path for s in ds.test_samples() if s.label == 0]
    if len(bases) < 2:
        raise SystemExit(f"{name} has {len(bases)} normal test images; need at least 2")
    cases = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        base, donor = bases[(5 * i) % len(bases)], bases[(5 * i + 2) % len(bases)]
        image, mask, _ = synthesize(load_image(base), np.random.default_rng([123, i]), kind=kind, donor=load_image(donor))
        cases.append((kind, image, mask, reference.features(image)))
    return cases


if __name__ == "__main__":
    main()
