"""CPU throughput of ``detect`` (patch kNN) and where the time goes.

Reports images per second for scoring and the share of time spent outside
the backbone's forward pass (resizing, kNN search, map upsampling and
smoothing), each as the median over repeated runs.

    python bench/detect_speed.py [--backbone efficientnet-lite0] [--shots 8] [--images 24] [--repeats 5]

Data: Magnetic Tile normal images from ../shared/data/magnetic_tile when
present (real photos of varying size), else generated textured surfaces.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from defectlab.data import list_images, load_image
from defectlab.detect.patch_knn import PatchKNNDetector
from defectlab.synthetic.surfaces import surface

MT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "magnetic_tile" / "MT_Free" / "Imgs"


def images(n: int) -> list[np.ndarray]:
    if MT.is_dir():
        return [load_image(p) for p in list_images(MT)[:n]]
    rng = np.random.default_rng(0)
    return [surface(rng, 256) for _ in range(n)]


class TimedForward:
    """Wraps the backbone's forward pass to add up the seconds spent in it."""

    def __init__(self, backbone):
        self.backbone, self.inner, self.seconds = backbone, backbone.forward_layers, 0.0
        backbone.forward_layers = self

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="efficientnet-lite0")
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=None, help="torch and faiss threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        import faiss

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)

    data = images(args.shots + args.images)
    normal, test = data[: args.shots], data[args.shots :]
    det = PatchKNNDetector(args.backbone, image_size=args.image_size, progress=False).fit(normal)
    det.predict(test[:2])  # warm-up: first calls allocate
    timer = TimedForward(det.embedder_.model)
    rates, outside = [], []
    for _ in range(args.repeats):
        timer.seconds = 0.0
        start = time.perf_counter()
        det.predict(test)
        total = time.perf_counter() - start
        rates.append(len(test) / total)
        outside.append(1 - timer.seconds / total)
    print(f"backbone {args.backbone}, {args.shots} shots, {len(test)} images, resize {det.resizer_.policy} "
          f"{args.image_size}, torch threads {torch.get_num_threads()}")
    print(f"images/s (median of {args.repeats}): {statistics.median(rates):.1f}  "
          f"[min {min(rates):.1f}, max {max(rates):.1f}]")
    print(f"share of time outside the backbone forward pass (median): {100 * statistics.median(outside):.1f} %")


if __name__ == "__main__":
    main()
