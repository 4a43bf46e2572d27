"""The bad-input corpus: shared pieces.

Every case ends in one of two ways, and the helpers here check which: the
input is handled (scored, listed, served) or refused with a clean error, exit
status 2 and a one-line message that names the culprit (the flag, the file,
the folder), never a traceback.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from defectlab.cli import main

# Small enough that a case costs tens of milliseconds, large enough for the backbone.
SIZE = "64"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    # Two intra-op threads spin-wait on each other on a shared 2-core machine
    # and run each tiny forward pass ten times slower (see cli/click_common.py).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB surface with some grain, so that features are not all equal."""
    rng = np.random.default_rng(seed)
    base = 120 + 40 * np.sin(np.arange(width) / 5.0)[None, :] + rng.normal(0, 8, (height, width))
    return np.repeat(base.clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def save(path: Path, pixels: np.ndarray | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(texture(48, 48) if pixels is None else pixels).save(path, **kwargs)
    return path


@pytest.fixture(scope="session")
def normal_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("normal")
    for i in range(2):
        save(folder / f"normal_{i}.png", texture(64, 64, seed=i))
    return folder


@dataclass
class Run:
    rc: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``defectlab ARGS`` in this process; returns the exit status and what it printed."""

    def run(*argv) -> Run:
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return Run(rc, out, err)

    return run


@pytest.fixture
def detect(cli, normal_dir, tmp_path):
    """``defectlab detect`` on ``images`` against the tiny normal folder, at 64 px."""

    def run(images: Path, *extra, normal: Path | None = None) -> Run:
        return cli("detect", "--normal", normal or normal_dir, "--images", images, "--out", tmp_path / "out",
                   "--image-size", SIZE, *extra)

    return run


def assert_clean_error(run: Run, *culprits: str) -> None:
    """Exit 2, no traceback, and every culprit (flag, file or folder name) named in the message."""
    assert run.rc == 2, f"expected a clean error, got exit {run.rc}\n{run.out}\n{run.err}"
    assert "Traceback" not in run.err
    message = run.err.strip().splitlines()[-1]
    assert message.startswith("defectlab"), run.err
    for culprit in culprits:
        assert culprit in message, f"{culprit!r} not named in: {message}"


def scored(out: Path) -> dict[str, dict]:
    """scores.csv rows of a detect run, by image file name."""
    with open(out / "scores.csv", encoding="utf-8", newline="") as handle:
        return {Path(row["image"]).name: row for row in csv.DictReader(handle)}


def assert_scored(run: Run, out: Path, *names: str) -> None:
    assert run.rc == 0, run.err
    rows = scored(out)
    for name in names:
        assert name in rows, f"{name} not scored; scored: {sorted(rows)}"
        assert np.isfinite(float(rows[name]["score"]))
