"""Memory of one labelling session after 500 clicks, on ADClick and a real Magnetic Tile image.

The labelling app keeps, per open image, an ``Annotation`` (its undo history)
over a ``ClickSession`` (the model's state). This drives that pair the way
the app's routes do, with the shipped checkpoint, and reports:

* the process's resident memory (RSS) before the first click and after
  500, and what numpy allocated and still holds for the session
  (tracemalloc; numpy reports its buffers to it);
* the time of one more click, and of undoing a reset made after the 500
  clicks (which used to replay every click).

    python bench/app_memory.py [--clicks 500] [--image PATH] [--out bench/results/app_memory.md]

Data: the largest MT_Uneven image of Magnetic Tile (../shared/data), against
the first 16 MT_Free images as normals. Writes the markdown table to --out.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MT = REPO / ".." / "shared" / "data" / "magnetic_tile"


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pick_image() -> Path:
    from PIL import Image

    candidates = sorted((MT / "MT_Uneven" / "Imgs").glob("*.jpg"))
    if not candidates:
        raise SystemExit(f"Magnetic Tile not found under {MT.resolve()}; pass --image and --normal")
    return max(candidates, key=lambda p: (np.prod(Image.open(p).size), p.name))


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=500)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--normal", type=Path, default=MT / "MT_Free" / "Imgs")
    parser.add_argument("--normals", type=int, default=16)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "app_memory.md")
    args = parser.parse_args(argv)

    from defectlab.app.annotation import Annotation
    from defectlab.app.labeller import ADClickEngine
    from defectlab.data.io import list_images, load_image

    image_path = args.image or pick_image()
    image = load_image(image_path, mode="RGB")
    normals = [load_image(p, mode="RGB") for p in list_images(args.normal, exclude="*.png")[: args.normals]]
    engine = ADClickEngine()
    reference = engine.reference(normals)
    annotation = Annotation(engine.session(image, reference, "uneven"), image.shape[:2], "uneven")
    height, width = image.shape[:2]
    rng = np.random.default_rng(0)
    for _ in range(5):  # first calls pay for lazy imports and the fill's set-up
        annotation.click(int(rng.integers(width)), int(rng.integers(height)), True)
    annotation.reset()

    gc.collect()
    tracemalloc.start()
    base_traced = tracemalloc.get_traced_memory()[0]
    rss_before = rss_mb()
    started = time.perf_counter()
    click_ms = []
    for i in range(args.clicks):
        x, y = int(rng.integers(width)), int(rng.integers(height))
        t0 = time.perf_counter()
        annotation.click(x, y, i % 4 != 3)  # as a labeller refines: every fourth click negative
        click_ms.append((time.perf_counter() - t0) * 1000)
    clicking_s = time.perf_counter() - started
    gc.collect()
    held_mb = (tracemalloc.get_traced_memory()[0] - base_traced) / 2**20
    tracemalloc.stop()
    rss_after = rss_mb()
    steps = len(annotation._history)
    history_kb = getattr(annotation, "history_bytes", 0) / 1024  # absent before the compact history

    mask_before = annotation.mask.copy()
    t0 = time.perf_counter()
    annotation.reset()
    reset_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    annotation.undo()
    undo_ms = (time.perf_counter() - t0) * 1000
    restored = np.array_equal(annotation.mask, mask_before) and len(annotation.clicks) == args.clicks

    rows = [
        ("RSS before the clicks", f"{rss_before:.0f} MB"),
        (f"RSS after {args.clicks} clicks", f"{rss_after:.0f} MB"),
        (f"numpy memory the session still holds after {args.clicks} clicks", f"{held_mb:.1f} MB"),
        ("of that, per click", f"{held_mb * 1024 / args.clicks:.1f} kB"),
        ("undo history kept", f"{steps} steps, {history_kb:.0f} kB" if history_kb else f"{steps} steps"),
        ("click (median / p95)", f"{np.median(click_ms):.0f} / {np.percentile(click_ms, 95):.0f} ms"),
        (f"{args.clicks} clicks", f"{clicking_s:.1f} s"),
        ("reset", f"{reset_ms:.0f} ms"),
        (f"undo of that reset (back to {args.clicks} clicks)", f"{undo_ms:.0f} ms"),
        ("mask and clicks after the undo are the ones before the reset", "yes" if restored else "NO"),
    ]
    lines = [
        f"# Labelling app: session memory after {args.clicks} clicks (ADClick, shipped checkpoint)",
        "",
        f"`python bench/app_memory.py` at {commit()}, {_dt.date.today().isoformat()}, "
        f"{platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        f"Image: {image_path.name} ({width}x{height}, MT_Uneven), {len(normals)} MT_Free normals, "
        "prompt \"uneven\", fill between clicks on; random clicks, every fourth negative.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0 if restored else 1


if __name__ == "__main__":
    sys.exit(main())
