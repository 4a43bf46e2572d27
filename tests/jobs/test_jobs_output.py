"""A job's output folder: atomic parts, the done set, the csv merged from sorted parts, refusals (no Ray)."""

import csv
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from defectlab.errors import ConfigError
from defectlab.jobs import output
from defectlab.jobs.output import SCHEMA, ScoreStore, contains, digest_array

SETTINGS = {"model": "/models/m", "threshold": None}


def rows(images, score=lambda i: i / 10, error=None):
    return pa.Table.from_pylist([
        {"image": im, "score": None if error else score(i), "anomalous": None if error else score(i) > 0.5,
         "error": error, "map": None} for i, im in enumerate(images)], schema=SCHEMA)


def test_parts_are_committed_every_part_rows_and_make_the_done_set(tmp_path):
    committed = []
    with ScoreStore(tmp_path, SETTINGS, part_rows=3, on_part=lambda p, n: committed.append(n)) as store:
        store.add(rows(["a", "b"]))
        assert committed == []  # below part_rows: still buffered
        store.add(rows(["c", "d"]))
        assert committed == [4]
        store.add(rows(["e"]))
    assert committed == [4, 5]  # the rest is committed on leaving
    assert not list((tmp_path / "scores.parquet").glob(".*"))  # no temp file left
    with ScoreStore(tmp_path, SETTINGS) as store:
        done = store.done_digests()
    assert contains(done, digest_array(["a", "e", "z"])).tolist() == [True, True, False]


def test_the_csv_is_most_anomalous_first_with_errors_last_across_many_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "FAN_IN", 3)  # 10 parts: merged in passes, as a big job would be
    monkeypatch.setattr(output, "READ_ROWS", 2)
    rng = random.Random(0)
    scores = {f"img{i:03d}": round(rng.random(), 6) for i in range(60)}
    scores["tie_b"] = scores["tie_a"] = 0.5
    names = list(scores)
    rng.shuffle(names)
    with ScoreStore(tmp_path, SETTINGS, part_rows=6) as store:
        for start in range(0, len(names), 6):
            chunk = names[start:start + 6]
            store.add(rows(chunk, score=lambda i, c=chunk: scores[c[i]]))
        store.add(rows(["broken.png"], error="ImageLoadError: nope"))
        store.flush()
        assert len(store.part_files()) > 10
        totals = store.write_csv()
    table = list(csv.DictReader(open(tmp_path / "scores.csv", encoding="utf-8")))
    assert list(table[0]) == ["image", "score", "anomalous", "error"]
    expected = sorted(scores, key=lambda n: (-scores[n], n)) + ["broken.png"]
    assert [r["image"] for r in table] == expected
    assert table[0]["score"] == f"{max(scores.values()):.6f}" and table[0]["anomalous"] == "1"
    assert table[-1] == {"image": "broken.png", "score": "", "anomalous": "", "error": "ImageLoadError: nope"}
    assert (totals.rows, totals.errors) == (len(scores) + 1, 1)
    assert totals.flagged == sum(s > 0.5 for s in scores.values())
    assert not (tmp_path / ".sort").exists()
    assert pq.read_table(tmp_path / "scores.parquet").num_rows == len(scores) + 1


def test_another_model_or_threshold_into_the_same_out_is_refused(tmp_path):
    with ScoreStore(tmp_path, SETTINGS) as store:
        store.add(rows(["a"]))
    with pytest.raises(ConfigError, match="threshold"):
        ScoreStore(tmp_path, {**SETTINGS, "threshold": 0.3}).__enter__()


def test_a_second_run_into_the_same_out_at_once_is_refused_and_a_dead_ones_temp_part_is_cleared(tmp_path):
    with ScoreStore(tmp_path, SETTINGS):
        with pytest.raises(ConfigError, match="another run"):
            ScoreStore(tmp_path, SETTINGS).__enter__()
    stale = tmp_path / "scores.parquet" / ".part-x.parquet.abc.tmp"
    stale.write_bytes(b"half a part")
    with ScoreStore(tmp_path, SETTINGS) as store:
        assert store.part_files() == [] and not stale.exists()
