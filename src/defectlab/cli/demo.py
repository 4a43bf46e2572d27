"""``defectlab demo``: the main job end to end, offline, on data made on the spot.

It generates a small inspection set of textured surfaces with four kinds of
structural defect (:mod:`defectlab.synthetic.surfaces`), runs ``detect`` on
the offline default backbone, and scores the result with the ground truth it
drew. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from .. import metrics
from ..backbones import DEFAULT_BACKBONE
from ..data.io import list_images
from ..synthetic.surfaces import make_demo_data
from .detect_job import detect_folder


def run_demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    data = make_demo_data(out / "data")
    test = out / "data" / "all_test"
    test.mkdir(exist_ok=True)
    labels = {}
    for path in list_images(out / "data" / "test", recursive=True):
        link = test / f"{path.parent.name}_{path.name}"
        if not link.exists():
            link.write_bytes(path.read_bytes())
        labels[link.stem] = path.parent.name != "good"
    summary = detect_folder(data / "train" / "good", test, out, {"backbone": args.backbone})
    print(summary)
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    y = [labels[Path(r["image"]).stem] for r in rows]
    s = [float(r["score"]) for r in rows]
    print(f"\nDemo ground truth: image AUROC {metrics.image_auroc(y, s):.3f}, "
          f"F1-max {metrics.f1_max(y, s).f1:.3f} on {sum(y)} defective vs {len(y) - sum(y)} normal images.")
    print(f"Look at {out / 'summary.png'} (most anomalous first) and {out / 'overlays'}/.")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job offline on generated data and show the result")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: %(default)s)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE, help="backbone (default: %(default)s, offline)")
    p.set_defaults(func=run_demo)
