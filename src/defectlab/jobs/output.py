"""A job's output folder: scores in parquet parts, committed one part at a time, and the csv rebuilt from them.

``OUT/scores.parquet/`` is a folder of part files (read it whole with
``pyarrow.parquet.read_table`` or ``pandas.read_parquet``), one row per image
with the columns of :data:`SCHEMA`: ``image``, ``score``, ``anomalous``,
``error`` (why an image could not be scored; its score is then empty) and
``map`` (where its anomaly map was saved, with ``--save-maps``). A part is
written to a hidden temporary file and renamed into place, so a crash leaves
whole parts only: the parts are the job's record of what is done, and a rerun
skips every image they hold (by its path as listed).

``OUT/scores.csv`` has the columns of plain ``detect`` (``image,score,
anomalous``) plus ``error``, most anomalous first, unreadable images last. It
is rebuilt from the parts at the end of every run, so a run that died after
writing a part but before the csv is made whole by the next run, which also
scores what the dead one did not. The rebuild is an external merge: each part
is sorted when written, and the csv is their k-way merge, holding one small
batch per part in memory whatever the number of rows.

``OUT/job.json`` records the model and threshold; a rerun with a different
one is refused, since the parts would mix two models' scores. A lock file
keeps two runs from writing the same OUT at once.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import heapq
import io
import itertools
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..data.io import atomic_write, write_text_atomic
from ..errors import ConfigError

SCHEMA = pa.schema([
    ("image", pa.string()),
    ("score", pa.float64()),  # null when the image could not be scored
    ("anomalous", pa.bool_()),  # null without a threshold, or with an error
    ("error", pa.string()),
    ("map", pa.string()),  # relative to OUT; null unless maps are saved
])
CSV_COLUMNS = ("image", "score", "anomalous", "error")
PARTS = "scores.parquet"
# Most anomalous first, ties by path (plain detect's order for a folder), unreadable images last.
SORT_KEYS = [("score", "descending", "at_end"), ("image", "ascending", "at_end")]
# Parts merged at once when the csv is rebuilt; more are merged in passes, so
# open files and memory (one READ_ROWS batch per part) stay bounded. Parts
# are written in row groups of READ_ROWS: parquet is read a row group at a
# time, so one group per part would hold every part whole during the merge.
FAN_IN = 128
READ_ROWS = 1024
DIGEST_BYTES = 16  # 128-bit: no collision in any number of images a job will see


def image_digest(image: str) -> bytes:
    """What identifies an image in the done set: a digest of its path as listed."""
    return hashlib.blake2b(image.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def digest_array(images: Iterable[str]) -> np.ndarray:
    return np.array([image_digest(i) for i in images], dtype=f"S{DIGEST_BYTES}")


def contains(sorted_digests: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """Which ``digests`` are in ``sorted_digests``: a binary search, 16 bytes per done image."""
    if len(sorted_digests) == 0:
        return np.zeros(len(digests), bool)
    at = np.searchsorted(sorted_digests, digests).clip(max=len(sorted_digests) - 1)
    return sorted_digests[at] == digests


@dataclass
class Totals:
    rows: int = 0
    errors: int = 0
    flagged: int = 0
    top: list[tuple[str, float]] = field(default_factory=list)  # the 10 most anomalous


class ScoreStore:
    """The output folder of one run: use as a context manager (it holds the folder's lock).

    ``settings`` (model, threshold) must match those of earlier runs into the
    same folder. Rows come in through :meth:`add` and are committed as a part
    every ``part_rows`` rows or ``part_seconds`` seconds, whichever comes first:
    the seconds bound the work a crash can lose when images score slowly.
    ``on_part(path, rows_committed)`` is called after each part is in place.
    """

    def __init__(self, out: str | os.PathLike, settings: dict, part_rows: int = 10_000, part_seconds: float = 30.0,
                 on_part: Callable[[Path, int], None] | None = None):
        self.out = Path(out)
        self.parts = self.out / PARTS
        self.settings = settings
        self.part_rows, self.part_seconds, self.on_part = part_rows, part_seconds, on_part
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._written = 0
        self.parts_written: list[Path] = []
        self._last_flush = time.monotonic()
        self._lock = None

    def __enter__(self) -> "ScoreStore":
        self.parts.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.out / ".lock", "w")
        try:
            # flock, not a lock file's existence: the kernel drops it when the
            # process dies, so a crashed run never blocks the rerun that resumes it.
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise ConfigError(f"another run is writing {self.out}; wait for it or choose another --out") from None
        try:
            self._check_settings()
        except BaseException:
            self._lock.close()
            raise
        for stale in self.parts.glob(".*.tmp"):  # a temp part of a run killed mid-write
            stale.unlink()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.flush()
        finally:
            self._lock.close()

    def _check_settings(self) -> None:
        path = self.out / "job.json"
        if path.exists():
            before = json.loads(path.read_text(encoding="utf-8"))
            changed = {k: (before.get(k), v) for k, v in self.settings.items() if before.get(k) != v}
            if changed and self.part_files():
                what = "; ".join(f"{k}: {old!r} before, {new!r} now" for k, (old, new) in changed.items())
                raise ConfigError(f"{self.out} holds scores from another setting ({what}); "
                                  "its scores would mix with these: choose another --out")
        write_text_atomic(path, json.dumps(self.settings, indent=2) + "\n")

    # -- what is done -----------------------------------------------------
    def part_files(self) -> list[Path]:
        return sorted(p for p in self.parts.glob("*.parquet") if not p.name.startswith("."))

    def done_digests(self) -> np.ndarray:
        """Sorted digests of every image in the committed parts."""
        chunks = [digest_array(batch.column(0).to_pylist())
                  for part in self.part_files()
                  for batch in pq.ParquetFile(part).iter_batches(batch_size=65536, columns=["image"])]
        done = np.concatenate(chunks) if chunks else np.zeros(0, f"S{DIGEST_BYTES}")
        done.sort()
        return done

    # -- adding rows ------------------------------------------------------
    def add(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self._buffer.append(rows.select(SCHEMA.names).cast(SCHEMA))
            self._buffered += rows.num_rows
        if self._buffered >= self.part_rows or (
                self._buffered and time.monotonic() - self._last_flush >= self.part_seconds):
            self.flush()

    def flush(self) -> Path | None:
        """Commit the buffered rows as one part (sorted, so the csv can merge parts)."""
        self._last_flush = time.monotonic()
        if not self._buffered:
            return None
        table = pa.concat_tables(self._buffer)
        table = table.take(pc.sort_indices(table, sort_keys=SORT_KEYS))
        path = self.parts / f"part-{self.run_id}-{len(self.parts_written):06d}.parquet"
        atomic_write(path, lambda handle: pq.write_table(table, handle, row_group_size=READ_ROWS))
        self._buffer, self._buffered = [], 0
        self._written += table.num_rows
        self.parts_written.append(path)
        if self.on_part:
            self.on_part(path, self._written)
        return path

    @property
    def rows_written(self) -> int:
        return self._written

    # -- the csv ----------------------------------------------------------
    def write_csv(self) -> Totals:
        """Rebuild ``scores.csv`` from every part; returns what it holds."""
        totals = Totals()
        scratch = self.out / ".sort"
        try:
            rows = _merged(self.part_files(), scratch)

            def write(handle) -> None:
                text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
                writer = csv.writer(text, lineterminator="\n")
                writer.writerow(CSV_COLUMNS)
                for image, score, anomalous, error in rows:
                    totals.rows += 1
                    totals.errors += error is not None
                    totals.flagged += anomalous is True
                    if score is not None and len(totals.top) < 10:
                        totals.top.append((image, score))
                    writer.writerow([image, "" if score is None else f"{score:.6f}",
                                     "" if anomalous is None else int(anomalous), error or ""])
                text.flush()
                text.detach()  # the handle is atomic_write's to close

            atomic_write(self.out / "scores.csv", write)
        finally:
            if scratch.exists():
                for run in scratch.iterdir():
                    run.unlink()
                scratch.rmdir()
        return totals


def _key(row: tuple) -> tuple:
    image, score = row[0], row[1]
    return (score is None, -score if score is not None else 0.0, image)


def _rows(path: Path) -> Iterator[tuple]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_ROWS, columns=list(CSV_COLUMNS)):
        yield from zip(*(batch.column(name).to_pylist() for name in CSV_COLUMNS))


def _merged(parts: list[Path], scratch: Path) -> Iterator[tuple]:
    """Every row of the (each sorted) parts, in csv order."""
    runs = list(parts)
    while len(runs) > FAN_IN:
        group, runs = runs[:FAN_IN], runs[FAN_IN:]
        runs.append(_write_run(heapq.merge(*map(_rows, group), key=_key), scratch))
    return heapq.merge(*map(_rows, runs), key=_key)


def _write_run(rows: Iterator[tuple], scratch: Path) -> Path:
    scratch.mkdir(exist_ok=True)
    path = scratch / f"run-{uuid.uuid4().hex}.parquet"
    schema = pa.schema([SCHEMA.field(name) for name in CSV_COLUMNS])
    with pq.ParquetWriter(path, schema) as writer:
        while batch := list(itertools.islice(rows, 65536)):
            writer.write_table(pa.Table.from_pylist([dict(zip(CSV_COLUMNS, r)) for r in batch], schema=schema),
                               row_group_size=READ_ROWS)
    return path
