"""How long ``PatchKNNDetector.fit`` takes on a full folder of normal images, and where the time goes.

    python bench/fit_speed.py [--product metal_plate] [--normals 60] [--threads N] [--repeats 1]
                              [--part-rows R] [--auroc N]

A line is often fitted on every normal image it has, not on a few shots:
the memory bank then grows with the image count, and the greedy coreset and
the leave-one-out scores, each a pass over the bank per step or per image,
grow with its square. Reports the fit's wall time and the seconds spent in
the backbone forward, the greedy coreset and the leave-one-out search.
``--part-rows`` sets the coreset's part length (default
``knn.PART_ROWS``; a huge value gives one greedy run over the whole bank).
``--auroc N`` (Magnetic Tile only) then scores N normal photos that the fit
did not see (evenly spaced over the rest of MT_Free) and N defective ones
(evenly spaced over the MT_* classes): image AUROC and the shares flagged at
the default threshold.

Rule 5 (eighth session, written 12:40 UTC on 2 December 2026, before any
figure of it): the coreset in parts stays iff ``--product magnetic_tile
--normals 200 --auroc 100`` gives an image AUROC at most 0.5 points below
the same command with ``--part-rows 100000000`` (one greedy run).

Data: the first --normals images (sorted names) of the product's
train/good folder under ../shared/data/industrial (or Magnetic Tile's
MT_Free .jpg photos for --product magnetic_tile); defaults otherwise
(EfficientNet-Lite0, coreset 0.1).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from defectlab.backbones import knn
from defectlab.data import list_images
from defectlab.detect import patch_knn
from defectlab.metrics.image import image_auroc
from detect_speed import Timed

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def normal_paths(product: str, n: int) -> list[Path]:
    if product == "magnetic_tile":
        return list_images(SHARED / "magnetic_tile" / "MT_Free" / "Imgs", exclude="*.png")[:n]
    return list_images(SHARED / "industrial" / product / "train" / "good")[:n]


def test_set(n_fit: int, n: int) -> tuple[list[Path], list[int]]:
    """n unseen Magnetic Tile normals and n defective photos (evenly spaced), with labels 0 / 1."""
    mt = SHARED / "magnetic_tile"
    rest = list_images(mt / "MT_Free" / "Imgs", exclude="*.png")[n_fit:]
    defective = [p for d in sorted(mt.glob("MT_*")) if d.name != "MT_Free" for p in list_images(d / "Imgs", exclude="*.png")]
    pick = lambda xs: [xs[i] for i in np.linspace(0, len(xs) - 1, min(n, len(xs))).round().astype(int)]  # noqa: E731
    normals, bad = pick(rest), pick(defective)
    return normals + bad, [0] * len(normals) + [1] * len(bad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--product", default="metal_plate")
    ap.add_argument("--normals", type=int, default=60)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--part-rows", type=int, default=knn.PART_ROWS, help="coreset part length (default %(default)s)")
    ap.add_argument("--auroc", type=int, default=0, metavar="N",
                    help="then score N unseen normal and N defective Magnetic Tile photos (default: no scoring)")
    args = ap.parse_args()
    if args.auroc and args.product != "magnetic_tile":
        ap.error("--auroc scores Magnetic Tile photos; use it with --product magnetic_tile")
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = normal_paths(args.product, args.normals)
    whole_run = patch_knn.greedy_coreset
    patch_knn.greedy_coreset = lambda bank, size, progress=False: whole_run(bank, size, progress, args.part_rows)
    coreset = Timed(patch_knn, "greedy_coreset")
    loo = Timed(knn.CosineIndex, "distance_outside")
    totals, forwards, cores, loos = [], [], [], []
    for _ in range(args.repeats):
        det = patch_knn.PatchKNNDetector(progress=False)
        forward = Timed(det.embedder_.model, "forward_layers")
        coreset.seconds = loo.seconds = 0.0
        start = time.perf_counter()
        det.fit(paths)
        totals.append(time.perf_counter() - start)
        forwards.append(forward.seconds)
        cores.append(coreset.seconds)
        loos.append(loo.seconds)
    print(f"{args.product}: {len(paths)} normal images, bank {len(det.index_)} rows after the coreset, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
    print(f"fit {statistics.median(totals):.1f} s: backbone forward {statistics.median(forwards):.1f} s, "
          f"greedy coreset {statistics.median(cores):.1f} s, leave-one-out {statistics.median(loos):.1f} s "
          f"(coreset part length {args.part_rows} rows)")
    if args.auroc:
        paths, labels = test_set(args.normals, args.auroc)
        scores = np.array([p.score for p in det.predict(paths)])
        flagged, truth = scores > det.threshold_, np.array(labels, bool)
        print(f"image AUROC {100 * image_auroc(labels, scores):.2f} % on {(~truth).sum()} unseen normal and "
              f"{truth.sum()} defective photos; flagged at the default threshold: normal "
              f"{100 * flagged[~truth].mean():.1f} %, defective {100 * flagged[truth].mean():.1f} %")


if __name__ == "__main__":
    main()
