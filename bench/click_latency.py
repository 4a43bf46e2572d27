"""ADClick latency on CPU: per-image precompute and per-click time (median, p95).

    python bench/click_latency.py --root ../shared/data/magnetic_tile
    python bench/click_latency.py --root ../shared/data/magnetic_tile --threads 2
    python bench/click_latency.py --no-fill     # writes bench/results/click_latency_nofill.md

What is timed, on the held-out classes' real images at their own sizes:

- one-time costs: loading the checkpoint, the prompt encoder, building the
  normal reference (``--normals`` images);
- precompute: ``ClickSession(image, reference, prompt)`` (image decode,
  backbone, nearest-normal search, the head's per-image encoder);
- a click: ``add_click`` plus reading ``mask`` (what a UI needs after a
  click), for the simulated user's clicks, up to ``--clicks`` per image.

The first session is a warm-up and not counted (one-off allocations).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/magnetic_tile")
    ap.add_argument("--dataset", default="magnetic-tile")
    ap.add_argument("--category", default=None)
    ap.add_argument("--types", default="crack,uneven")
    ap.add_argument("--images", type=int, default=30, help="images in all, spread over the types")
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--normals", type=int, default=64)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fill", dest="fill", action="store_false", help="sessions with fill=False (no fill between clicks)")
    ap.add_argument("--no-obey", dest="obey", action="store_false", help="sessions with obey=False (clicks not enforced; ablation)")
    ap.add_argument("--no-grabcut", dest="grabcut", action="store_false", help="sessions with grabcut=False (the head's mask, no GrabCut refinement)")
    ap.add_argument("--out", default=None, help="default: bench/results/click_latency.md, or click_latency_nofill.md with --no-fill")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from defectlab.click import ClickModel, ClickSession, next_click
    from defectlab.data import get_dataset, load_gt_mask, sample_support

    ds = get_dataset(args.dataset, args.root, args.category)
    types = args.types.split(",")
    per_type = max(1, args.images // len(types))
    samples = []
    for t in types:
        samples += [s for s in ds.test_samples() if s.anomaly_type == t][:per_type]

    once = {}
    t0 = time.perf_counter()
    model = ClickModel(args.checkpoint)
    once["load checkpoint"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.embed_prompt("warm-up")
    once["load prompt encoder"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = model.reference(sample_support(ds.train_normals(), args.normals, seed=0))
    once[f"normal reference ({args.normals} images)"] = time.perf_counter() - t0

    ClickSession(samples[0].image_path, reference, prompt=samples[0].anomaly_type, model=model).add_click(0, 0, True)

    precompute, per_click, sizes = [], [], []
    for s in samples:
        t0 = time.perf_counter()
        session = ClickSession(s.image_path, reference, prompt=s.anomaly_type, model=model, fill=args.fill, obey=args.obey,
                               grabcut=args.grabcut)
        precompute.append(time.perf_counter() - t0)
        sizes.append(session.features.size)
        gt = load_gt_mask(s)
        pred = np.zeros_like(gt)
        for _ in range(args.clicks):
            click = next_click(gt, pred)
            if click is None:
                break
            t0 = time.perf_counter()
            session.add_click(click.x, click.y, click.positive)
            pred = session.mask
            per_click.append(time.perf_counter() - t0)

    def stats(values):
        ms = np.asarray(values) * 1000
        return f"{np.median(ms):.0f} ms", f"{np.percentile(ms, 95):.0f} ms"

    areas = [h * w for h, w in sizes]
    lines = [
        f"# ADClick latency ({platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s){'' if args.fill else ', no fill between clicks'}, {len(samples)} images of {args.types}, model sizes "
        f"{min(sizes, key=lambda s: s[0] * s[1])} .. {max(sizes, key=lambda s: s[0] * s[1])}, "
        f"median {int(np.median(areas))} px)",
        "",
        "| what | median | p95 | n |",
        "|---|---|---|---|",
        f"| precompute per image | {stats(precompute)[0]} | {stats(precompute)[1]} | {len(precompute)} |",
        f"| click (add_click + mask) | {stats(per_click)[0]} | {stats(per_click)[1]} | {len(per_click)} |",
        "",
        "| one-time | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in once.items()],
    ]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out or f"bench/results/click_latency{'' if args.fill else '_nofill'}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
