"""CPU throughput of ``detect`` (patch kNN) and where the time goes.

Reports images per second for scoring and the share of time spent outside
the backbone's forward pass, and within it the kNN search, the resize, the
pooling and the map upsampling and smoothing, each as the median over
repeated runs. The forward is the backbone's, in torch or through ONNX
Runtime (``--runtime``, see ``defectlab/backbones/onnx_forward.py``); with
``--onnx`` also the exported model's images per second (ONNX Runtime, same
threads).

    python bench/detect_speed.py [--backbone efficientnet-lite0] [--shots 8] [--images 24] [--repeats 5]
                                 [--coreset C] [--threads N] [--runtime auto|torch] [--onnx]

Data: Magnetic Tile normal images (the .jpg photos, not the masks beside
them) from ../shared/data/magnetic_tile when present (real photos of varying
size), else generated textured surfaces.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from defectlab.backbones import embedder, onnx_forward
from defectlab.data import list_images, load_image
from defectlab.detect import OnnxDetector, patch_knn
from defectlab.detect.onnx_export import export_onnx
from defectlab.detect.patch_knn import PatchKNNDetector
from defectlab.synthetic.surfaces import surface

MT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "magnetic_tile" / "MT_Free" / "Imgs"


def images(n: int) -> list[np.ndarray]:
    if MT.is_dir():
        return [load_image(p) for p in list_images(MT, exclude="*.png")[:n]]
    rng = np.random.default_rng(0)
    return [surface(rng, 256) for _ in range(n)]


class Timed:
    """Replaces ``owner.name`` (a method of an instance or a class, or a module's function) with a wrapper
    that adds up the seconds spent in it, over all calls and threads."""

    def __init__(self, owner, name: str):
        inner, lock, self.seconds = getattr(owner, name), threading.Lock(), 0.0

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                with lock:
                    self.seconds += time.perf_counter() - start

        setattr(owner, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="efficientnet-lite0")
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=None, help="torch and faiss threads (default: torch's)")
    ap.add_argument("--coreset", type=float, default=None, help="share of the memory bank kept (default: the detector's)")
    ap.add_argument("--runtime", choices=onnx_forward.RUNTIMES, default=None,
                    help=f"the backbone forward's runtime (sets {onnx_forward.ENV}; default: the environment's, else auto)")
    ap.add_argument("--onnx", action="store_true", help="also time the exported model through ONNX Runtime")
    args = ap.parse_args()
    if args.runtime:
        os.environ[onnx_forward.ENV] = args.runtime
    if args.threads:
        import faiss

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)

    data = images(args.shots + args.images)
    normal, test = data[: args.shots], data[args.shots :]
    options = {} if args.coreset is None else {"coreset": args.coreset}
    det = PatchKNNDetector(args.backbone, image_size=args.image_size, progress=False, **options).fit(normal)
    det.predict(test[:2])  # warm-up: first calls allocate
    # Exported before the timers below wrap the backbone's methods: the tracer would follow the wrappers
    # (an export after them traced a wrong graph, and the ONNX figures it gave before 2 December were void).
    tmp = tempfile.TemporaryDirectory()
    exported = OnnxDetector(export_onnx(det, Path(tmp.name) / "m.onnx"), threads=torch.get_num_threads(),
                            progress=False) if args.onnx else None
    # a forward runs in torch or through ONNX Runtime: both timers add up to the backbone's time
    forward = Timed(det.embedder_.model, "forward_layers"), Timed(onnx_forward, "forward")
    knn = Timed(det.index_, "distance")
    stages = {"resize": Timed(det.embedder_.model, "to_tensor"), "pooling": Timed(embedder, "patch_features"),
              "map upsampling and smoothing": Timed(patch_knn, "upsample_map")}
    # with several workers (detect.parallel) each one's time counts: the shares are of workers x wall time
    workers = det._predict_workers(len(test))
    rates, outside, search = [], [], []
    shares: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(args.repeats):
        for timer in (*forward, knn, *stages.values()):
            timer.seconds = 0.0
        start = time.perf_counter()
        det.predict(test)
        total = time.perf_counter() - start
        rates.append(len(test) / total)
        outside.append(1 - sum(timer.seconds for timer in forward) / (workers * total))
        search.append(knn.seconds / (workers * total))
        for name, timer in stages.items():
            shares[name].append(timer.seconds / (workers * total))
    print(f"backbone {args.backbone}, {args.shots} shots, {len(test)} images, resize {det.resizer_.policy} "
          f"{args.image_size}, coreset {det.coreset:g} ({len(det.index_)} bank rows), "
          f"torch threads {torch.get_num_threads()}, {workers} image(s) at a time, "
          f"runtime {onnx_forward.runtime()}")
    print(f"images/s (median of {args.repeats}): {statistics.median(rates):.1f}  "
          f"[min {min(rates):.1f}, max {max(rates):.1f}]")
    print(f"share of time outside the backbone forward pass (median): {100 * statistics.median(outside):.1f} %, "
          f"of which kNN search {100 * statistics.median(search):.1f} %, "
          + ", ".join(f"{name} {100 * statistics.median(v):.1f} %" for name, v in shares.items()))
    if exported is not None:
        exported.predict(test[:2])
        onnx_rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            exported.predict(test)
            onnx_rates.append(len(test) / (time.perf_counter() - start))
        print(f"exported (ONNX Runtime) images/s (median of {args.repeats}): {statistics.median(onnx_rates):.1f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
