"""Corpus: the largest case, 10000 px strips, in a child process whose peak memory is measured.

Before the resizer kept both sides within bounds, a 1 x 10000 image became a
64 x 640000 backbone input and the peak passed 10 GB; the bound here is 4 GB.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from robustness_util import SIZE, save, texture

LIMIT_BYTES = 4 * 1024**3

CHILD = (
    "import resource, sys\n"
    "from defectlab.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"  # Linux reports KiB
    "sys.exit(rc)\n"
)


def test_strips_of_10000_px_score_within_4_gb(tmp_path):
    normal, images = tmp_path / "normal", tmp_path / "images"
    save(normal / "square.png", texture(64, 64))
    save(normal / "strip.png", texture(2, 10000, seed=1))
    for name, shape in {"wide.png": (1, 10000), "tall.png": (10000, 1), "band.png": (16, 10000),
                        "column.png": (10000, 3)}.items():
        save(images / name, texture(*shape, seed=len(name)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", CHILD, "detect", "--normal", str(normal), "--images", str(images),
                           "--out", str(tmp_path / "out"), "--image-size", SIZE],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    peak = int(re.search(r"peak_kib (\d+)", proc.stdout).group(1)) * 1024
    assert peak < LIMIT_BYTES, f"peak memory {peak / 1024**3:.1f} GB"
    assert len(os.listdir(tmp_path / "out" / "overlays")) == 4
