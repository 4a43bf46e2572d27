"""How long ``PatchKNNDetector.fit`` takes on a full folder of normal images, and where the time goes.

    python bench/fit_speed.py [--product metal_plate] [--normals 60] [--threads N] [--repeats 1]

A line is often fitted on every normal image it has, not on a few shots:
the memory bank then grows with the image count, and the greedy coreset and
the leave-one-out scores, each a pass over the bank per step or per image,
grow with its square. Reports the fit's wall time and the seconds spent in
the backbone forward, the greedy coreset and the leave-one-out search.

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

import torch

from defectlab.backbones import knn
from defectlab.data import list_images
from defectlab.detect import patch_knn
from detect_speed import Timed

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def normal_paths(product: str, n: int) -> list[Path]:
    if product == "magnetic_tile":
        return list_images(SHARED / "magnetic_tile" / "MT_Free" / "Imgs", exclude="*.png")[:n]
    return list_images(SHARED / "industrial" / product / "train" / "good")[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--product", default="metal_plate")
    ap.add_argument("--normals", type=int, default=60)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = normal_paths(args.product, args.normals)
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
          f"greedy coreset {statistics.median(cores):.1f} s, leave-one-out {statistics.median(loos):.1f} s")


if __name__ == "__main__":
    main()
