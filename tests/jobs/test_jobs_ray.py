"""``detect --engine ray`` on a local Ray (2 CPUs, 127.0.0.1) with a model saved by ``defectlab fit``:
``detect --model``'s scores, bad files as rows, resuming an interrupted run into the same OUT with each
image once.

One Ray session for the module: starting one takes 10-15 s on a 2-core
machine, and each job then spends most of its time starting its actors
(importing torch, loading the model).
"""

import argparse
import csv
import os
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest
import torch

ray = pytest.importorskip("ray")

from jobs_testutil import IMAGE_SIZE, make_job_data  # noqa: E402

from defectlab.cli import main  # noqa: E402
from defectlab.cli.detect_ray import add_ray_arguments, run_ray  # noqa: E402
from defectlab.data.names import path_text  # noqa: E402
from defectlab.jobs.inputs import parse_inputs  # noqa: E402
from defectlab.jobs.output import digest_array  # noqa: E402
from defectlab.jobs.ray_scoring import path_dataset, score_images, start_local_ray  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    start_local_ray(num_cpus=2, object_store_memory=200 * 2**20)  # its workers import this checkout's src
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_job_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def model(data, tmp_path_factory):
    normal, _ = data
    path = tmp_path_factory.mktemp("model") / "tiles"
    assert main(["fit", "--normal", str(normal), "--image-size", str(IMAGE_SIZE), "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def plain(data, model, tmp_path_factory):
    """Plain single-process ``detect --model`` on the same images, at the workers' one thread.

    oneDNN's convolutions sum in an order that depends on the thread count (features move by
    about 1e-5 between one and two threads), so bit-equal scores need equal threads.
    """
    _, images = data
    out = tmp_path_factory.mktemp("plain")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.warns(UserWarning, match="img_03_bad"):
            assert main(["detect", "--model", str(model), "--images", str(images), "--out", str(out),
                         "--skip-bad"]) == 0
    finally:
        torch.set_num_threads(threads)
    return read_csv(out / "scores.csv")


@pytest.fixture(scope="module")
def job(data, model, tmp_path_factory):
    _, images = data
    out = tmp_path_factory.mktemp("ray")
    result = score_images(model, images, out, workers=2, batch_size=2, save_maps=True)  # load_detector's loader
    return result, out


def read_csv(path):
    return list(csv.DictReader(open(path, encoding="utf-8")))


def test_scores_equal_plain_detect_row_for_row(plain, job):
    result, out = job
    scored = [r for r in read_csv(out / "scores.csv") if not r["error"]]
    assert [{k: r[k] for k in ("image", "score", "anomalous")} for r in scored] == plain
    assert result.scored == len(plain) + 1 and result.workers == 2


def test_an_unreadable_file_in_the_middle_is_a_row_with_its_error(job):
    result, out = job
    rows = read_csv(out / "scores.csv")
    bad = [r for r in rows if r["error"]]
    assert [Path(r["image"]).name for r in bad] == ["img_03_bad.png"] and rows[-1] == bad[0]
    assert bad[0]["error"].startswith("ImageLoadError") and bad[0]["score"] == ""
    assert result.totals.errors == 1
    assert "1 unreadable" in (out / "summary.md").read_text()


def test_maps_are_saved_where_the_parquet_says(job, data):
    _, out = job
    table = pq.read_table(out / "scores.parquet").to_pylist()
    good = [r for r in table if r["error"] is None]
    assert all(r["map"].startswith("maps/") for r in good)
    first = np.load(out / good[0]["map"])
    assert first.shape == (IMAGE_SIZE, IMAGE_SIZE) and first.dtype == np.float32


def test_ray_listens_on_loopback_only():
    addresses = {c.laddr.ip for p in psutil.Process().children(recursive=True)
                 for c in _listening(p)}
    assert addresses and addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}


def _listening(process: psutil.Process) -> list:
    """The process's listening sockets; none for one that exited after being listed (Ray's short-lived helpers)."""
    try:
        return [c for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    except psutil.NoSuchProcess:
        return []


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_into_the_same_out_with_each_image_once(data, model, job, tmp_path, capsys):
    _, images = data
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"".join(os.fsencode(p) + b"\n" for p in sorted(images.iterdir())))
    out = tmp_path / "out"

    def crash(part, rows):  # dies right after the first part, before the csv is written
        raise Interrupt

    with pytest.raises(Interrupt):
        # part_seconds out of reach: on a loaded machine the actors' start alone outlasts the default 30 s,
        # and the timed flush would commit a one-row part.
        score_images(model, listing, out, workers=2, batch_size=1, part_rows=2, part_seconds=3600, on_part=crash)
    first = pq.read_table(out / "scores.parquet").column("image").to_pylist()
    assert 2 <= len(first) < 10 and not (out / "scores.csv").exists()

    # Resumed through the command line's own path, the model's files sent through the object store.
    parser = argparse.ArgumentParser()
    parser.add_argument("--images")
    parser.add_argument("--out")
    parser.add_argument("--threshold", type=float)
    add_ray_arguments(parser)
    args = parser.parse_args(["--engine", "ray", "--images", str(listing), "--out", str(out),
                              "--workers", "2", "--ship-model"])
    assert run_ray(args, model) == 0
    assert f"{10 - len(first)} images" in capsys.readouterr().out
    assert run_ray(args, model) == 0  # all done: nothing scored again
    assert "scored 0 images" in capsys.readouterr().out

    images_in_parts = pq.read_table(out / "scores.parquet").column("image").to_pylist()
    assert sorted(images_in_parts) == sorted(path_text(p) for p in images.iterdir())  # each exactly once
    rows = read_csv(out / "scores.csv")
    assert rows == read_csv(job[1] / "scores.csv")  # the same scores as the uninterrupted run


def test_paths_come_in_blocks_of_about_a_batch_and_done_ones_are_left_out(tmp_path):
    # An actor passes a block's scores on only once the whole block is scored:
    # blocks of Ray Data's default size would hold a big job's scores back.
    lines = [f"/x/{i:06d}.png" for i in range(20_000)]
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    done = digest_array(lines[::2])
    done.sort()
    blocks = [b.column("image").to_pylist()
              for b in path_dataset(parse_inputs(str(tmp_path / "list.txt")), done, batch_size=4).iter_batches(
                  batch_size=None, batch_format="pyarrow")]
    assert sorted(p for b in blocks for p in b) == lines[1::2]
    assert max(map(len, blocks)) <= 64
