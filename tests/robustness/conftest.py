"""Fixtures of the bad-input corpus: one torch thread, tiny normal images, command runners."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from robustness_util import SIZE, Run, save, texture

from defectlab.cli import main


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    # Two intra-op threads spin-wait on each other on a shared 2-core machine
    # and run each tiny forward pass ten times slower (see cli/click_common.py).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def normal_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("normal")
    for i in range(2):
        save(folder / f"normal_{i}.png", texture(64, 64, seed=i))
    return folder


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
