"""Helpers for driving the app from tests and benchmarks: a real socket, a real browser.

Chromium is Debian's (``apt-get install chromium``), never Playwright's own
download, which needs network access a CI runner may not have.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """DEFECTLAB_CHROMIUM, else Debian's chromium on PATH; Playwright's own download is not used."""
    candidates = [os.environ.get("DEFECTLAB_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                  "/usr/bin/chromium"]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def require_browser():
    """Chromium and Playwright, or a skip — but a failure under CI, where the test must run."""
    import pytest

    chromium = find_chromium()
    problem = None
    if chromium is None:
        problem = "chromium is not installed (run .ci/app_deps.sh, or set DEFECTLAB_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed (pip install playwright)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"end-to-end browser test cannot run under CI: {problem}", pytrace=False)
        pytest.skip(problem)
    return chromium


@contextmanager
def serve(app):
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    import uvicorn

    from .listen import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@contextmanager
def browser_page(chromium: str, user_data_dir: Path, viewport=(1400, 850)):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def image_to_screen(page, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of the centre of image pixel (x, y) under the current zoom and pan."""
    return tuple(
        page.evaluate(
            """([x, y]) => {
                const v = window.defectlab.viewer;
                const r = v.canvas.getBoundingClientRect();
                return [r.left + v.x + (x + 0.5) * v.scale, r.top + v.y + (y + 0.5) * v.scale];
            }""",
            [x, y],
        )
    )


def canvas_pixel(page, sx: float, sy: float) -> list[int]:
    """RGBA of the canvas as drawn, at page coordinates."""
    return page.evaluate(
        """([sx, sy]) => {
            const c = document.getElementById('canvas');
            const r = c.getBoundingClientRect();
            const d = window.devicePixelRatio || 1;
            return Array.from(c.getContext('2d').getImageData(
                Math.round((sx - r.left) * d), Math.round((sy - r.top) * d), 1, 1).data);
        }""",
        [sx, sy],
    )
