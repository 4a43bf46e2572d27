"""Does an approximate index (faiss IVF) beat exact search on patch kNN's default memory bank?

    python bench/knn_ivf.py [--shots 8] [--queries 12] [--threads 1]

Fits patch kNN at its defaults (EfficientNet-Lite0, 10 % coreset) on the
first ``--shots`` Magnetic Tile normal photos, embeds the next ``--queries``
ones, and times the exact flat inner-product search against
``IndexIVFFlat`` for several ``nlist`` x ``nprobe``, with recall@1 and the
mean error of the nearest-patch distance against exact search. Prints a
markdown table (bench/results/detect_speed.md quotes one run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import faiss
import numpy as np
import torch

from defectlab.backbones.knn import normalise
from defectlab.data import list_images, load_image
from defectlab.detect.patch_knn import PatchKNNDetector

MT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "magnetic_tile" / "MT_Free" / "Imgs"


def per_image_ms(search, n_images: int, repeats: int = 3) -> float:
    search()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        search()
    return (time.perf_counter() - start) / repeats * 1000 / n_images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--queries", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    images = [load_image(p) for p in list_images(MT, exclude="*.png")[: args.shots + args.queries]]
    det = PatchKNNDetector(progress=False).fit(images[: args.shots])
    bank = det.index_.bank
    queries = np.concatenate([normalise(f.reshape(-1, f.shape[-1])) for f in det.embed(images[args.shots :])])
    exact = det.index_.index
    best = exact.search(queries, 1)[0][:, 0]
    print(f"bank {len(bank)} rows x {bank.shape[1]}, {len(queries)} queries; "
          f"exact: {per_image_ms(lambda: exact.search(queries, 1), args.queries):.1f} ms / image\n")
    print("| nlist | nprobe | ms / image | recall@1 | mean distance error |\n|---|---|---|---|---|")
    for nlist in (16, 32, 64):
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(bank.shape[1]), bank.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(bank)
        ivf.add(bank)
        for nprobe in (1, 2, 4, 8):
            ivf.nprobe = nprobe
            err = best - ivf.search(queries, 1)[0][:, 0]  # similarities: exact >= approximate
            ms = per_image_ms(lambda: ivf.search(queries, 1), args.queries)
            print(f"| {nlist} | {nprobe} | {ms:.1f} | {np.mean(err < 1e-6):.3f} | {err.mean():.4f} |")


if __name__ == "__main__":
    main()
