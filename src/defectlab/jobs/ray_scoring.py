"""Batch scoring on Ray: paths listed lazily, a pool of actors each holding the detector, scores streamed to OUT.

    from defectlab.jobs.ray_scoring import score_images
    result = score_images("models/tiles", "/data/tiles/list.txt", "out/tiles", workers=8)

The pipeline is one Ray Data dataset: a datasource whose read tasks list the
paths (:mod:`.inputs`; a list file in byte ranges, a folder or glob lazily)
and drop those already done, then ``map_batches`` over an actor pool, each
actor loading the fitted detector once and scoring a batch of paths. The
driver iterates the results and commits them as parquet parts
(:mod:`.output`), so it holds a part's worth of rows, never the listing nor
the maps. Ray Data's backpressure keeps the blocks in flight bounded, so the
memory of every process stays flat whatever the input size.

Each actor scores one image at a time with ``predict([image])`` on its
``worker_threads``; at one thread (the default) that is what plain
``detect`` computes for each image of a chunk
(:mod:`defectlab.detect.parallel`), so the scores are the same as the
single-process path's. An image that cannot be read (or that the detector
refuses with a ``DefectlabError``) becomes a row with its error; any other
exception is a bug and stops the job.

Without an address, a local Ray is started for the job and stopped after it:
on 127.0.0.1 only, no dashboard, ``workers * worker_threads`` CPUs. With one
(``"auto"``, ``"HOST:PORT"``) the job joins that cluster and
leaves it running. When Ray is already initialised in this process, the job
uses that session as it is (tests, notebooks).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import ray
import ray.data
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

import defectlab

from ..data.io import atomic_write, load_image
from ..data.names import path_text
from ..errors import ConfigError, DefectlabError
from .inputs import Inputs, Piece, open_path, parse_inputs
from .output import SCHEMA, ScoreStore, Totals, contains, digest_array, image_digest

# Ray Data hands an actor one block at a time and passes its scores on when
# the whole block is scored, so a block must be about one batch of paths: its
# default (blocks up to 128 MiB) would hold hundreds of thousands of images'
# scores in one actor, none committed. Blocks are capped in bytes; this many
# per path makes a block about a batch for typical path lengths.
BYTES_PER_PATH = 128
# Paths and score rows in flight (in Ray's object store) for the whole job,
# whatever the input size: about 500,000 paths, far more than any actor pool
# waits on.
IN_FLIGHT_BYTES = 64 * 2**20


class JobError(DefectlabError, RuntimeError):
    """A worker died: most often it could not load the model; the message ends with its reason."""


def load_with_default(model: str):
    """The default loader: the detector ``defectlab fit`` saved at ``model``.

    Imported inside the actor that calls it: the driver never loads the model
    (nor imports what loading it needs), the workers each do, once."""
    from ..detect import load_detector

    return load_detector(model)


@dataclass
class JobResult:
    out: Path
    scored: int  # rows committed by this run
    already_done: int  # images skipped because an earlier run had scored them
    seconds: float
    workers: int
    totals: Totals  # what OUT holds now
    summary: str


def score_images(
    model: str | os.PathLike,
    images: str | os.PathLike,
    out: str | os.PathLike,
    *,
    loader: Callable[[str], object] = load_with_default,
    threshold: float | None = None,
    workers: int | None = None,
    worker_threads: int = 1,
    batch_size: int = 16,
    save_maps: bool = False,
    ship_model: bool = False,
    ray_address: str | None = None,
    part_rows: int = 10_000,
    part_seconds: float = 30.0,
    on_part: Callable[[Path, int], None] | None = None,
) -> JobResult:
    """Score every image of ``images`` (folder, glob or list file) not yet in ``out``.

    ``loader(model)`` returns a fitted Detector; it runs in each actor, so
    ``model`` must be readable there (shared storage) unless ``ship_model``
    sends the model's files through Ray's object store. ``threshold`` flags
    images above it; by default the detector's own ``threshold_``. Each actor
    uses ``worker_threads`` CPUs and as many torch and faiss threads.
    """
    inputs = parse_inputs(images)
    out = Path(out)
    # Absolute, so that the actors (whose working directory is Ray's) find it and job.json names it for sure.
    model = str(model) if "://" in str(model) else os.path.abspath(model)
    _check_model_exists(model)
    shipped = _read_model_files(model) if ship_model else None
    settings = {"model": model, "threshold": threshold}
    start = time.perf_counter()
    with ScoreStore(out, settings, part_rows=part_rows, part_seconds=part_seconds, on_part=on_part) as store:
        done = store.done_digests()
        with ray_session(ray_address, None if workers is None else workers * worker_threads):
            workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // worker_threads)
            scorer = dict(model=model, loader=loader, threshold=threshold, cwd=inputs.cwd,
                          maps_dir=str(out.absolute() / "maps") if save_maps else None,
                          threads=worker_threads, shipped=shipped)
            dataset = path_dataset(inputs, done, batch_size).map_batches(
                Scorer, fn_constructor_kwargs=scorer, compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=worker_threads, batch_size=batch_size, batch_format="pyarrow")
            try:
                for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                    store.add(batch)
            except ray.exceptions.RayActorError as err:
                reason = str(err).strip().splitlines()[-1]
                raise JobError(f"a worker died (model {model}): {reason}") from err
        store.flush()
        seconds = time.perf_counter() - start
        totals = store.write_csv()
    result = JobResult(out, store.rows_written, len(done), seconds, workers, totals, "")
    result.summary = _summary(result, model, inputs, threshold, save_maps)
    atomic_write(out / "summary.md", lambda handle: handle.write((result.summary + "\n").encode("utf-8")))
    return result


def path_dataset(inputs: Inputs, done: np.ndarray, batch_size: int) -> ray.data.Dataset:
    """The paths of ``inputs`` not in ``done`` (sorted digests), in blocks of about ``batch_size``."""
    source = PathSource(inputs, ray.put(done) if len(done) else None, block_rows=batch_size)
    # The read tasks take no CPU: listing is light, and a read task waiting
    # for a CPU the actors hold would stall the pipeline. One block count per
    # piece: asking for more makes Ray Data split every block.
    paths = ray.data.read_datasource(source, num_cpus=0, override_num_blocks=len(source.pieces))
    paths.context.target_max_block_size = batch_size * BYTES_PER_PATH
    limits = paths.context.execution_options.resource_limits
    paths.context.execution_options.resource_limits = limits.copy(object_store_memory=IN_FLIGHT_BYTES)
    return paths


class PathSource(Datasource):
    """Ray Data datasource over :class:`Inputs`: one read task per piece, done images left out."""

    def __init__(self, inputs: Inputs, done_ref=None, block_rows: int = 16):
        self.pieces = inputs.pieces()
        self.done_ref, self.block_rows = done_ref, block_rows

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> list[ReadTask]:
        meta = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
        return [ReadTask(_reader(piece, self.done_ref, self.block_rows), meta,
                         schema=pa.schema([("image", pa.string()), ("source", pa.binary())]))
                for piece in self.pieces]


def _reader(piece: Piece, done_ref, block_rows: int) -> Callable[[], Iterator[pa.Table]]:
    def read() -> Iterator[pa.Table]:
        done = ray.get(done_ref) if done_ref is not None else np.zeros(0, "S16")
        paths = piece.paths()
        while block := list(itertools.islice(paths, block_rows)):
            # ``image`` is the path as text (what the rows and the done set hold),
            # ``source`` its bytes, from which any name opens, UTF-8 or not.
            images = [path_text(p) for p in block]
            if len(done):
                keep = ~contains(done, digest_array(images))
                block, images = [p for p, k in zip(block, keep) if k], [i for i, k in zip(images, keep) if k]
            if block:
                yield pa.table({"image": pa.array(images, pa.string()),
                                "source": pa.array([os.fsencode(p) for p in block], pa.binary())})

    return read


class Scorer:
    """One per actor: loads the detector once, then scores batches of paths."""

    def __init__(self, model: str, loader, threshold, cwd: str, maps_dir: str | None, threads: int, shipped):
        import faiss
        import torch

        # One actor per worker_threads CPUs: more threads than that would
        # contend with the other actors on the same machine.
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
        if shipped is not None:
            self._model_dir = tempfile.TemporaryDirectory(prefix="defectlab-model-")
            model = _write_model_files(shipped, Path(self._model_dir.name))
        self.detector = loader(model)
        self.threshold = threshold if threshold is not None else getattr(self.detector, "threshold_", None)
        self.cwd, self.maps_dir = cwd, maps_dir

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = [self._score(image, os.fsdecode(source))
                for image, source in zip(batch.column("image").to_pylist(), batch.column("source").to_pylist())]
        return pa.Table.from_pylist(rows, schema=SCHEMA)

    def _score(self, image: str, source: str) -> dict:
        row = {"image": image, "score": None, "anomalous": None, "error": None, "map": None}
        try:
            pred = self.detector.predict([load_image(open_path(source, self.cwd))])[0]
        except DefectlabError as err:  # ImageLoadError and ImageNotFoundError among them
            row["error"] = f"{type(err).__name__}: {err}"
            return row
        row["score"] = float(pred.score)
        if self.threshold is not None:
            row["anomalous"] = bool(pred.score > self.threshold)
        if self.maps_dir is not None:
            row["map"] = _save_map(self.maps_dir, image, pred.anomaly_map)
        return row


def _save_map(maps_dir: str, image: str, anomaly_map: np.ndarray) -> str:
    # The path's digest in the name: images from different folders often share a file name.
    name = f"{Path(image).stem}-{image_digest(image).hex()[:8]}.npy"
    atomic_write(Path(maps_dir) / name, lambda handle: np.save(handle, np.asarray(anomaly_map, np.float32)))
    return f"maps/{name}"


# --------------------------------------------------------------------------- the model through the object store


def _check_model_exists(model: str) -> None:
    """Fail now on a model that is not there, rather than in every actor once the job has started."""
    if "://" not in model and not _model_files(Path(model)):
        raise ConfigError(f"model {model} not found: neither a file, a folder, nor files named after it")


def _model_files(path: Path) -> list[Path]:
    """The files a saved model is made of: a folder's files, or the file and those named after it
    (``MODEL.json`` beside ``MODEL.safetensors``, whether MODEL is given with an extension or without)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    patterns = {f"{glob.escape(path.name)}.*", f"{glob.escape(path.stem)}.*"}
    named = {p for pattern in patterns for p in path.parent.glob(pattern) if p.is_file()}
    return sorted(named | ({path} if path.is_file() else set()))


def _read_model_files(model: str) -> dict:
    """``model``'s files as {"name": ..., "folder": ..., "files": {name: bytes}}, to ship to the actors."""
    if "://" in model:
        raise ConfigError(f"--ship-model sends files from this machine; {model} is not one: drop --ship-model")
    path = Path(model)
    return {"name": path.name, "folder": path.is_dir(), "files": {p.name: p.read_bytes() for p in _model_files(path)}}


def _write_model_files(shipped: dict, where: Path) -> str:
    root = where / shipped["name"] if shipped["folder"] else where
    root.mkdir(parents=True, exist_ok=True)
    for name, data in shipped["files"].items():
        (root / name).write_bytes(data)
    return str(where / shipped["name"])


# --------------------------------------------------------------------------- the Ray session

LOCAL_ENV = {
    # Ray on Linux advertises, and binds its servers to, the machine's network
    # address even for a one-machine session. With clusters switched off (its
    # own switch, meant for macOS and Windows) it uses 127.0.0.1 and binds
    # there only, so a local job listens on nothing outside this machine.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, **init_kwargs) -> Iterator[None]:
    """Ray for one job: the process's own session if there is one, else the cluster at ``address``,
    else a local one on 127.0.0.1 (``num_cpus`` CPUs, default all), stopped afterwards."""
    if ray.is_initialized():
        yield
        return
    if address is None:
        start_local_ray(num_cpus, **init_kwargs)
    else:
        # A head on this machine's loopback (``ray start --head`` with the same
        # switch): without it Ray would rewrite 127.0.0.1 to the machine's address.
        with _loopback_only() if _is_loopback(address) else contextlib.nullcontext():
            ray.init(address=address, **init_kwargs)
    try:
        yield
    finally:
        ray.shutdown()


def start_local_ray(num_cpus: int | None = None, **init_kwargs) -> None:
    """``ray.init`` of a one-machine session on 127.0.0.1 only, without dashboard, whose workers
    import the same ``defectlab`` as this process."""
    here = str(Path(defectlab.__file__).resolve().parents[1])
    # The Ray processes started here inherit the environment: the workers' import path with it.
    with _loopback_only({"PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}):
        ray.init(num_cpus=num_cpus, include_dashboard=False, **init_kwargs)


@contextlib.contextmanager
def _loopback_only(extra_env: dict | None = None) -> Iterator[None]:
    """:data:`LOCAL_ENV` (and ``extra_env``) while Ray starts or connects; as they were afterwards."""
    from ray._private import ray_constants

    env = {**LOCAL_ENV, **(extra_env or {})}
    saved_env = {name: os.environ.get(name) for name in env}
    saved_switch = ray_constants.ENABLE_RAY_CLUSTER
    # The switch is read when ray is imported, and ray is imported already: set it here too.
    os.environ.update(env)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_switch
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]") or address
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _summary(result: JobResult, model: str, inputs: Inputs, threshold: float | None, save_maps: bool) -> str:
    totals = result.totals
    rate = result.scored / max(result.seconds, 1e-9)
    rule = "the model's own" if threshold is None else f"{threshold:g}"
    return "\n".join([
        "# defectlab detect --engine ray",
        "",
        f"- model: {model}",
        f"- images: {inputs.spec} ({inputs.kind})",
        f"- this run: scored {result.scored} images in {result.seconds:.1f} s ({rate:.1f} images/s, "
        f"{result.workers} workers, Ray start-up included); {result.already_done} were done before",
        f"- in {result.out}: {totals.rows} images, {totals.errors} unreadable, flagged {totals.flagged} "
        f"(threshold: {rule})",
        "",
        "Most anomalous:",
        *[f"  {score:.4f}  {Path(image).name}" for image, score in totals.top],
        "",
        f"Written: {result.out / 'scores.parquet'}/, {result.out / 'scores.csv'}"
        + (f", {result.out / 'maps'}/" if save_maps else ""),
    ])
