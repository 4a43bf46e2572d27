"""Helpers of the bad-input corpus (the fixtures are in conftest.py).

Every case ends in one of two ways, and these check which: the input is
handled (scored, listed, served) or refused with a clean error, exit status
2 and a one-line message that names the culprit (the flag, the file, the
folder), never a traceback.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Small enough that a case costs tens of milliseconds, large enough for the backbone.
SIZE = "64"


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB surface with some grain, so that features are not all equal."""
    rng = np.random.default_rng(seed)
    base = 120 + 40 * np.sin(np.arange(width) / 5.0)[None, :] + rng.normal(0, 8, (height, width))
    return np.repeat(base.clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def save(path: Path, pixels: np.ndarray | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(texture(48, 48) if pixels is None else pixels).save(path, **kwargs)
    return path


@dataclass
class Run:
    rc: int
    out: str
    err: str


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
