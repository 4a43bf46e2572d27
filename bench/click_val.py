"""ADClick on the held-back validation images of the *training* classes.

    python bench/click_val.py --checkpoint A.safetensors [--methods adclick,random-walker] [--out FILE.md]

``click-train --val-every 8`` leaves every 8th image of the training types
out of training; this runs click-eval's protocol on exactly those images
(unseen images of seen defect types), which is the second score training
settings are chosen by (the first is ``bench/click_dev.py``), so that the
held-out classes never steer a choice.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    from defectlab.click.train import split_real
    from defectlab.data import get_dataset
    from defectlab.evaluation.interactive import evaluate, markdown_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/magnetic_tile")
    ap.add_argument("--dataset", default="magnetic-tile")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--methods", default="adclick")
    ap.add_argument("--val-every", type=int, default=8)
    ap.add_argument("--keep-rejected", action="store_true", help="ADClick with drop_rejected=False")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    ds = get_dataset(args.dataset, args.root)
    val = split_real(ds, val_every=args.val_every)[1]  # the slice click-train holds back
    rows = evaluate(
        args.dataset, args.root, methods=args.methods.split(","), checkpoint=args.checkpoint,
        samples=val, progress=False, log=lambda *_: None, drop_rejected=not args.keep_rejected,
    )  # fmt: skip
    table = markdown_table(rows)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
