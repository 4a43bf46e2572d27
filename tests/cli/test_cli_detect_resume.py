"""A plain detect run stopped midway resumes: what was scored is kept, only the rest is scored."""

import csv

import numpy as np
import pytest

from defectlab.cli import detect_job
from defectlab.cli.detect_partial import FOLDER
from defectlab.data.io import save_png_atomic
from defectlab.detect import PatchKNNDetector
from defectlab.errors import ConfigError
from defectlab.synthetic.surfaces import surface


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(3)
    normal, images = tmp_path / "normal", tmp_path / "images"
    for i in range(3):
        save_png_atomic(normal / f"n{i}.png", surface(rng, 64))
    for i in range(4):
        save_png_atomic(images / f"i{i}.png", surface(rng, 64))
    return normal, images


def scores(out):
    return {r["image"]: r["score"] for r in csv.DictReader(open(out / "scores.csv"))}


def run(normal, images, out, **kw):
    return detect_job.detect_folder(normal, images, out, {"image_size": 64}, **kw)


def test_a_stopped_run_resumes_scoring_only_what_is_missing(folders, tmp_path, monkeypatch):
    normal, images = folders
    run(normal, images, tmp_path / "clean")
    monkeypatch.setattr(detect_job, "chunk_size", lambda detector: 1)
    calls = []
    real = PatchKNNDetector.predict

    def stop_at_third(self, arrays):
        calls.append(len(arrays))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, arrays)

    monkeypatch.setattr(PatchKNNDetector, "predict", stop_at_third)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(normal, images, out)
    assert (out / FOLDER / "scored.jsonl").read_text().count("\n") == 2
    with open(out / FOLDER / "scored.jsonl", "a") as f:
        f.write('{"path": "torn')  # a crash mid-line is skipped
    calls.clear()
    monkeypatch.setattr(PatchKNNDetector, "predict", lambda self, arrays: (calls.append(len(arrays)), real(self, arrays))[1])
    run(normal, images, out)
    assert len(calls) == 2  # the two images not scored before
    assert scores(out) == scores(tmp_path / "clean")
    assert not (out / FOLDER).exists()


def test_another_job_into_an_unfinished_out_is_refused(folders, tmp_path, monkeypatch):
    normal, images = folders
    monkeypatch.setattr(PatchKNNDetector, "predict", lambda self, arrays: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        run(normal, images, tmp_path / "out")
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="another detect run"):
        detect_job.detect_folder(normal, images, tmp_path / "out", {"image_size": 96})
    run(normal, images, tmp_path / "out")  # the same job finishes it
    assert len(scores(tmp_path / "out")) == 4


def test_a_missing_model_is_named_and_nothing_is_written(folders, tmp_path, capsys):
    from defectlab.cli import main

    _, images = folders
    out = tmp_path / "out"
    assert main(["detect", "--model", str(tmp_path / "nope.safetensors"), "--images", str(images),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nope.safetensors" in err and "defectlab fit" in err
    assert not out.exists()


def test_a_saved_model_run_resumes_too(folders, tmp_path, monkeypatch):
    """The job is the model's files, however the model is named (NAME or NAME.safetensors)."""
    normal, images = folders
    model = tmp_path / "m"
    PatchKNNDetector(image_size=64).fit(sorted(normal.iterdir())).save(model)
    monkeypatch.setattr(PatchKNNDetector, "predict", lambda self, arrays: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        detect_job.detect_folder(None, images, tmp_path / "out", {}, model=model)
    monkeypatch.undo()
    assert (tmp_path / "out" / FOLDER / "job.json").is_file()
    detect_job.detect_folder(None, images, tmp_path / "out", {}, model=model.with_suffix(".safetensors"))
    assert len(scores(tmp_path / "out")) == 4 and not (tmp_path / "out" / FOLDER).exists()
