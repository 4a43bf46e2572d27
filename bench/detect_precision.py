"""What a bf16 backbone forward buys in speed and costs in image AUROC, on the five shared products.

    python bench/detect_precision.py [--max-test 120] [--threads 1]

Two backbones, each at fp32 and bf16 (``PatchKNNDetector(precision=...)``):
EfficientNet-Lite0 with its ImageNet weights (the offline default) and a
DINOv2-S/14-sized ViT with random weights at 252 px (the peer bench's model,
``bench/peer_anomalydino.py``; trained DINOv2 weights do not download here).
Accuracy: patch kNN, 8 shots, VAND support draws (seeds 42, 0, 1234), test
sets evenly subsampled to --max-test images, image AUROC over all types, the
protocol of bench/detect_accuracy.py; loss = fp32 minus bf16 on the same
support and test images. Fidelity: cosine between each patch's bf16 and fp32
features. Speed: the embedding pipeline (resize, forward, pooling), one image at the products' resized size,
median over repeats.

Rule, fixed before any accuracy figure was seen (2026-12-02 03:21 UTC): the
default becomes a precision "auto" that runs DINOv2 in bf16 on hardware with
native bf16 if, on every product, bf16 loses at most 0.5 points for both
backbones (the trained EfficientNet stands in for trained weights: its bf16
features deviate from fp32 far more than the ViT's); otherwise fp32 stays the
default for every backbone and bf16 is there on request. Outcome: fp32 stays
(EfficientNet-Lite0 lost 0.77 points on battery_weld).

Writes bench/results/detect_precision.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from defectlab.backbones.embedder import PatchEmbedder
from defectlab.backbones.resize import Resizer
from defectlab.data import get_dataset, load_image
from defectlab.evaluation.engine import evaluate
from detect_accuracy import PRODUCTS, SEEDS, CachedFeatures
from peer_anomalydino import random_dinov2

RESULTS = Path(__file__).resolve().parent / "results"


def auroc(product, backbone: str, image_size: int, precision: str, max_test: int) -> list[float]:
    _, layout, root, category = product
    detector = CachedFeatures(backbone, image_size=image_size, precision=precision, progress=False)
    results = evaluate(get_dataset(layout, root, category), detector, [8], SEEDS, max_test=max_test,
                       pixel=False, progress=False)
    return [100 * r.metrics["image_auroc/all"] for r in results]


def fidelity_and_speed(product, backbone: str, image_size: int, repeats: int = 5) -> tuple[float, float, dict]:
    """(lowest, mean patch cosine bf16 vs fp32, {precision: features ms}) on three of the product's test images.

    Features ms: the embedding pipeline for one image (resize, forward, pooling), the forward nearly all of it.
    """
    _, layout, root, category = product
    samples = get_dataset(layout, root, category).test_samples()
    images = [load_image(s.image_path) for s in samples[:: max(1, len(samples) // 3)][:3]]
    resizer = Resizer("auto", image_size).fit([im.shape[:2] for im in images])
    cosines, ms = [], {"fp32": [], "bf16": []}
    for image in images:
        feats = {}
        for precision in ("fp32", "bf16"):
            embedder = PatchEmbedder(backbone, precision=precision)
            embedder.embed_numpy([image], resizer)  # warm-up
            for _ in range(repeats):
                start = time.perf_counter()
                feats[precision] = embedder.embed_numpy([image], resizer)[0]
                ms[precision].append(1000 * (time.perf_counter() - start))
        cosines.append(torch.nn.functional.cosine_similarity(
            torch.from_numpy(feats["fp32"]), torch.from_numpy(feats["bf16"]), dim=-1).flatten())
    cos = torch.cat(cosines)
    return float(cos.min()), float(cos.mean()), {k: statistics.median(v) for k, v in ms.items()}


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (elsewhere torch emulates it, slower than fp32)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-test", type=int, default=120)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    backbones = [("efficientnet-lite0", "EfficientNet-Lite0 (ImageNet)", 256),
                 (random_dinov2(), "DINOv2-S/14 size, random weights", 252)]
    products = [p for p in PRODUCTS if p[2].is_dir()]
    rows, losses = [], []
    for backbone, label, size in backbones:
        for product in products:
            scores = {}
            for precision in ("fp32", "bf16"):
                CachedFeatures.cache.clear()
                scores[precision] = auroc(product, backbone, size, precision, args.max_test)
            loss = float(np.mean(scores["fp32"]) - np.mean(scores["bf16"]))
            losses.append(loss)
            cos_min, cos_mean, ms = fidelity_and_speed(product, backbone, size)
            rows.append(f"| {label} | {product[0]} | {np.mean(scores['fp32']):.2f} | {np.mean(scores['bf16']):.2f} "
                        f"| {-loss:+.2f} | {cos_mean:.5f} / {cos_min:.4f} | {ms['fp32']:.0f} | {ms['bf16']:.0f} "
                        f"| {ms['fp32'] / ms['bf16']:.2f}x |")
            print(rows[-1], flush=True)
    keep = max(losses) <= 0.5
    lines = ["# bf16 backbone forward: speed and image AUROC on the five shared products", "",
             f"`python bench/detect_precision.py --max-test {args.max_test} --threads {args.threads}`; patch kNN, "
             f"8 shots, seeds {SEEDS}, test sets evenly subsampled to at most {args.max_test} images; image AUROC "
             "(all types, %) mean over seeds; change = bf16 minus fp32 on the same images; patch cosine bf16 vs fp32 "
             "(mean / lowest) and features ms (resize, forward, pooling; median, one image, "
             f"{args.threads} thread{'s' if args.threads > 1 else ''}) on three test images of each product. "
             f"This CPU multiplies bf16 natively: {native_bf16()}.", "",
             "Rule (fixed before the figures): the default runs DINOv2 in bf16 where the hardware has native bf16 "
             "if bf16 loses at most 0.5 points on every product for both backbones; otherwise fp32 stays the "
             "default for every backbone.", "",
             "| backbone | product | AUROC fp32 | AUROC bf16 | change | patch cosine | fp32 ms | bf16 ms | speed-up |",
             "|---|---|---|---|---|---|---|---|---|", *rows, "",
             f"Largest loss: {max(losses):.2f} points; rule: {'bf16 default for DINOv2 on native hardware' if keep else 'fp32 stays the default'}.",
             "", f"Run time {time.perf_counter() - start:.0f} s."]
    (RESULTS / "detect_precision.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
