"""Shared helpers for the labelling-app tests (tests/app, tests/cli, tests/robustness): a tiny image folder and a
normal folder, and the app started from the command line in its own process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

import defectlab

# Each defective image has a dark scratch at rows 30-34, columns 40-90.
SCRATCH = (slice(30, 35), slice(40, 90))


def _surface(seed: int, height: int = 96, width: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (150 + rng.normal(0, 6, (height, width))).clip(0, 255).astype(np.uint8)


def make_folders(root: Path, n_images: int = 4) -> tuple[Path, Path]:
    images, normal = root / "images", root / "normal"
    images.mkdir(parents=True)
    normal.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(_surface(100 + i)).save(normal / f"ok_{i}.png")
    for i in range(n_images):
        pixels = _surface(i)
        pixels[SCRATCH] = 40
        if i % 2:
            Image.fromarray(pixels).save(images / f"part_{i:02d}.png")
        else:
            Image.fromarray(np.stack([pixels] * 3, axis=2)).save(images / f"part_{i:02d}.jpg", quality=95)
    return images, normal


@contextmanager
def label_server(images: Path, normal: Path, out: Path, *extra: str, timeout: float = 60.0):
    """``defectlab label --engine fake`` in its own process, as a user starts it; yields (process, base URL).

    A separate process, not a thread: a request that crashes the server (a
    segfault) or a SIGKILL must be seen as the process dying, and must not take
    the test run with it.
    """
    command = [sys.executable, "-m", "defectlab.cli", "label", str(images), "--normal", str(normal),
               "--out", str(out), "--port", "0", "--engine", "fake", *extra]
    src = str(Path(defectlab.__file__).resolve().parents[1])  # this checkout's code, not an installed copy
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url, lines = None, []
        deadline = time.monotonic() + timeout
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"open (http://\S+) in your browser", line)
            url = found.group(1).rstrip("/") if found else None
        if url is None:
            proc.kill()
            raise RuntimeError("the server did not start:\n" + "".join(lines) + (proc.stdout.read() or ""))
        # Keep reading its output, or a chatty server blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        while True:  # the address is printed just before uvicorn starts accepting
            try:
                if httpx.get(url + "/api/state", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {url} did not answer (exit status {proc.poll()})")
            time.sleep(0.05)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
