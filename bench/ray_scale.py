"""``detect --engine ray`` at scale on one machine: throughput per worker, and memory with a million paths.

    python bench/ray_scale.py [--images 48] [--seconds 60] [--paths 1000000] [--out bench/results/ray_scale_raw.md]

1. Ray start-up (local, 127.0.0.1), then scoring throughput with 1 and 2
   workers (one CPU and one torch/faiss thread each) on real Magnetic Tile
   photos, patch kNN at 256 px fitted on 8 normal photos; steady rate from the
   first to the last committed part, start-up apart. The same detector in this
   process, one thread, is the baseline.
2. Memory of a 1,000,000-path list (paths through 1,050 symlinked folders to
   the 952 real MT_Free photos, so every path is distinct and readable):
   listing it through the job's datasource into the driver; then the real job
   over it, stopped after --seconds, beside the same job over a 1,000-path
   list, sampling the RSS of the driver and of every Ray process once a
   second.
3. The driver's own work at 1,000,000 rows: the done set read back from the
   parts, rows committed as parts, the csv merged from them.

Needs the data at ../shared/data/magnetic_tile (real photos only: the point
is real decode and scoring cost). Writes a markdown report of the raw figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.dataset
import ray
import ray.data

from defectlab.data.io import load_image
from defectlab.jobs.inputs import parse_inputs
from defectlab.jobs.output import SCHEMA, ScoreStore
from defectlab.jobs.ray_scoring import path_dataset, score_images, start_local_ray

MT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "magnetic_tile" / "MT_Free" / "Imgs"
MIB = 2**20
JOB_BATCH = 16  # the command line's default --batch-size


def fit_from_file(model: str):
    """The bench's loader: fits on the photos the model file lists (fit is deterministic).

    Imports the detector here, so that the driver (which never calls it but
    for the baseline, last) is measured without torch loaded by the bench."""
    from defectlab.detect import PatchKNNDetector

    spec = json.loads(Path(model).read_text())
    return PatchKNNDetector(image_size=spec["image_size"], progress=False).fit([load_image(p) for p in spec["normal"]])


class Sampler:
    """Peak RSS of this process and of each Ray process (by process title), sampled each second.

    The object store is not sampled: the API that reports it needs grpc, which
    ray[data] does not install; Ray Data's progress log prints its own use."""

    def __init__(self):
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            self._peak("driver", me.memory_info().rss)
            for proc in me.children(recursive=True):
                try:
                    self._peak(_role(proc.name()), proc.memory_info().rss)
                except psutil.Error:
                    pass
            self._stop.wait(1.0)

    def _peak(self, role: str, rss: int):
        self.peaks[role] = max(self.peaks.get(role, 0), rss)

    def line(self) -> str:
        parts = [f"{role} {rss / MIB:.0f}" for role, rss in sorted(self.peaks.items())]
        return f"peak RSS MiB: {', '.join(parts)}"


def _role(title: str) -> str:
    if "MapWorker" in title or "Scorer" in title:
        return "scoring actor"
    if title.startswith("ray::"):
        return "other worker"
    return title  # raylet, gcs_server, ...


def throughput(model: Path, images: Path, workers: int, out: Path) -> dict:
    commits = []
    result = score_images(model, images, out, loader=fit_from_file, workers=workers, batch_size=4, part_rows=4,
                          on_part=lambda part, rows: commits.append((time.perf_counter(), rows)))
    (t0, n0), (t1, n1) = commits[0], commits[-1]
    return {"workers": workers, "total_s": result.seconds, "steady": (n1 - n0) / (t1 - t0), "rows": result.scored}


def plain_rate(model: Path, images: list[Path]) -> float:
    import faiss
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    det = fit_from_file(str(model))
    det.predict([load_image(images[0])])
    start = time.perf_counter()
    for path in images:
        det.predict([load_image(path)])
    return len(images) / (time.perf_counter() - start)


def million_paths(root: Path, n: int) -> Path:
    photos = sorted(p.name for p in MT.glob("*.jpg"))
    folders = -(-n // len(photos))
    for i in range(folders):
        (root / "links" / f"d{i:04d}").parent.mkdir(parents=True, exist_ok=True)
        os.symlink(MT.resolve(), root / "links" / f"d{i:04d}")
    listing = root / f"paths_{n}.txt"
    with open(listing, "w") as handle:
        for i in range(n):
            handle.write(f"{root}/links/d{i % folders:04d}/{photos[i // folders]}\n")
    return listing


def listing_only(listing: Path, batch_size: int) -> tuple[int, float]:
    start, rows = time.perf_counter(), 0
    for batch in path_dataset(parse_inputs(listing), np.zeros(0, "S16"), batch_size).iter_batches(
            batch_size=None, batch_format="pyarrow"):
        rows += batch.num_rows
    return rows, time.perf_counter() - start


class Enough(Exception):
    pass


def timed_job(model: Path, listing: Path, out: Path, seconds: float) -> int:
    start = time.perf_counter()

    def stop_after(part, rows):
        if time.perf_counter() - start > seconds:
            raise Enough

    try:
        score_images(model, listing, out, loader=fit_from_file, workers=2, batch_size=JOB_BATCH, part_rows=64,
                     part_seconds=5, on_part=stop_after)
    except Enough:
        pass
    return pyarrow.dataset.dataset(out / "scores.parquet").count_rows() if (out / "scores.parquet").exists() else 0


def driver_work(root: Path, n: int) -> list[str]:
    out = root / "sink"
    rng = np.random.default_rng(0)
    me = psutil.Process()
    before = me.memory_info().rss
    start = time.perf_counter()
    with ScoreStore(out, {"model": "m", "threshold": None}) as store:
        for lo in range(0, n, 2048):
            k = min(2048, n - lo)
            store.add(pa.table({"image": [f"/data/line_{lo + i:07d}/image_{i:04d}.jpg" for i in range(k)],
                                "score": rng.random(k), "anomalous": rng.random(k) > 0.9,
                                "error": pa.nulls(k, pa.string()), "map": pa.nulls(k, pa.string())}, schema=SCHEMA))
        store.flush()
        commit_s = time.perf_counter() - start
        start = time.perf_counter()
        done = store.done_digests()
        done_s = time.perf_counter() - start
        start = time.perf_counter()
        totals = store.write_csv()
        csv_s = time.perf_counter() - start
        parts = len(store.part_files())
    grown = (me.memory_info().rss - before) / MIB
    return [f"- commit {n:,} rows as {parts} parts: {commit_s:.1f} s ({n / commit_s:,.0f} rows/s)",
            f"- done set read back from the parts: {done_s:.1f} s, {done.nbytes / MIB:.1f} MiB ({len(done):,} digests)",
            f"- scores.csv merged from the parts: {csv_s:.1f} s ({totals.rows / csv_s:,.0f} rows/s), "
            f"{(out / 'scores.csv').stat().st_size / MIB:.0f} MiB",
            f"- driver RSS grew {grown:.0f} MiB over the three (done set included)"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=48, help="photos scored in the throughput runs")
    ap.add_argument("--seconds", type=float, default=60, help="how long each memory run scores")
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    ap.add_argument("--throughput-only", action="store_true", help="stop after part 1")
    args = ap.parse_args()
    if not MT.is_dir():
        sys.exit(f"needs the Magnetic Tile photos at {MT}")
    root = Path(tempfile.mkdtemp(prefix="defectlab-ray-bench-"))
    photos = sorted(MT.glob("*.jpg"))
    random.Random(0).shuffle(photos)
    model = root / "model.json"
    model.write_text(json.dumps({"normal": [str(p) for p in photos[:8]], "image_size": 256}))
    scored = root / "images"
    scored.mkdir()
    for p in photos[8 : 8 + args.images]:
        os.symlink(p, scored / p.name)
    report = [f"# ray_scale raw figures ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f} at start)", ""]
    try:
        start = time.perf_counter()
        start_local_ray(num_cpus=2)
        report.append(f"- local Ray start-up: {time.perf_counter() - start:.1f} s; driver RSS after it "
                      f"{psutil.Process().memory_info().rss / MIB:.0f} MiB")
        for workers in (1, 2):
            t = throughput(model, scored, workers, root / f"tp{workers}")
            report.append(f"- ray, {workers} worker(s): {t['steady']:.2f} images/s steady; {t['rows']} images in "
                          f"{t['total_s']:.1f} s including actor start-up; load average {os.getloadavg()[0]:.1f} after")
            print(report[-1], flush=True)
        if not args.throughput_only:
            listing = million_paths(root, args.paths)
            with Sampler() as sampler:
                rows, seconds = listing_only(listing, JOB_BATCH)
            report.append(f"- listing {rows:,} paths through the datasource into the driver: {seconds:.1f} s; "
                          + sampler.line())
            print(report[-1], flush=True)
            small = root / "paths_1000.txt"
            with listing.open() as handle:
                small.write_text("".join(itertools.islice(handle, 1000)))
            for name, path in ((f"{args.paths:,}", listing), ("1,000", small)):
                with Sampler() as sampler:
                    done = timed_job(model, path, root / f"mem_{path.stem}", args.seconds)
                report.append(f"- job over {name} paths, stopped after {args.seconds:.0f} s: {done} scored; "
                              + sampler.line())
                print(report[-1], flush=True)
        rate = plain_rate(model, photos[8 : 8 + 12])
        report.append(f"- plain, this process, 1 thread: {rate:.2f} images/s")
        ray.shutdown()
        if not args.throughput_only:
            report += ["", "Driver work at 1,000,000 rows (no Ray):", *driver_work(root, 1_000_000)]
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
