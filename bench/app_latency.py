"""Click-to-mask latency of the labelling app on CPU (target: p95 <= 100 ms).

Two measurements, both over a real loopback socket to a uvicorn server:

* ``http``: POST /click -> JSON with the mask as row runs, parsed. This is the
  server's share: routing, the click session, encoding the mask.
* ``browser``: in headless Chromium, from the mouse click to the mask painted
  on the canvas (the page's own timer, one animation frame included). This is
  what a user feels.

    python bench/app_latency.py [--engine fake|adclick] [--images DIR --normal DIR] [--clicks 200] [--browser]

Data: the given folders, else Magnetic Tile from ../shared/data when present
(crack images against free ones), else generated 1024x1024 surfaces. The
engine ``fake`` paints disks (the app's own overhead); ``adclick`` is the model
and needs its checkpoint; ``adclick-untrained`` is the same network with random
head weights, which costs the same per click.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

MT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "magnetic_tile"


def synthetic_folders(root: Path, size: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    images, normal = root / "images", root / "normal"
    for folder, n in ((images, 3), (normal, 4)):
        folder.mkdir(parents=True)
        for i in range(n):
            pixels = (140 + rng.normal(0, 8, (size, size))).clip(0, 255).astype(np.uint8)
            if folder is images:
                pixels[size // 2 - 3 : size // 2 + 3, size // 4 : 3 * size // 4] = 50
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return images, normal


def pick_data(args, tmp: Path) -> tuple[Path, Path, list[str] | None]:
    if args.images:
        return args.images, args.normal, None
    if (MT / "MT_Crack" / "Imgs").is_dir() and not args.synthetic:
        return MT / "MT_Crack" / "Imgs", MT / "MT_Free" / "Imgs", ["*.png"]
    images, normal = synthetic_folders(tmp, args.size)
    return images, normal, None


def percentiles(values: list[float]) -> dict:
    arr = np.asarray(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "max_ms": round(float(arr.max()), 2),
        "mean_ms": round(float(arr.mean()), 2),
    }


def click_points(rng, width: int, height: int, n: int):
    for i in range(n):
        # Mostly positive, every fourth negative, as a labeller refines a mask.
        yield int(rng.integers(0, width)), int(rng.integers(0, height)), i % 4 != 3


def bench_http(url: str, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=url, timeout=120) as client:
        state = client.get("/api/state").json()
        id_ = state["images"][0]["id"]
        info = client.post(f"/api/images/{id_}/open", json={}).json()
        started = time.perf_counter()
        while not info["ready"]:
            info = client.get(f"/api/images/{id_}?wait=10").json()
        ready_s = time.perf_counter() - started
        width, height = info["width"], info["height"]
        for x, y, p in click_points(rng, width, height, 5):  # warm-up: first calls pay for lazy imports
            client.post(f"/api/images/{id_}/click", json={"x": x, "y": y, "positive": p})
        client.post(f"/api/images/{id_}/reset", json={})
        round_trips, server, payload = [], [], []
        for i, (x, y, p) in enumerate(click_points(rng, width, height, n)):
            if i % 10 == 0:
                client.post(f"/api/images/{id_}/reset", json={})  # keep masks of realistic size
            t0 = time.perf_counter()
            response = client.post(f"/api/images/{id_}/click", json={"x": x, "y": y, "positive": p})
            body = response.json()
            round_trips.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
            server.append(body["server_ms"])
            payload.append(len(response.content))
    return {
        "image": f"{width}x{height}",
        "first_image_ready_s": round(ready_s, 2),
        "round_trip": percentiles(round_trips),
        "server": percentiles(server),
        "response_bytes_median": int(statistics.median(payload)),
    }


def bench_browser(url: str, n: int, seed: int, screenshot: Path | None) -> dict:
    from defectlab.app.testing import browser_page, find_chromium, image_to_screen

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("--browser needs Chromium (apt-get install chromium, or set DEFECTLAB_CHROMIUM)")
    rng = np.random.default_rng(seed)
    latencies = []
    with tempfile.TemporaryDirectory() as profile, browser_page(chromium, Path(profile)) as page:
        page.goto(url + "/")
        page.wait_for_function("() => document.getElementById('stage').dataset.state === 'ready'", timeout=300_000)
        width, height = page.evaluate("() => [window.defectlab.viewer.width, window.defectlab.viewer.height]")
        for i, (x, y, positive) in enumerate(click_points(rng, width, height, n)):
            if i % 10 == 0:
                page.keyboard.press("r")
                page.wait_for_function("() => document.getElementById('stage').dataset.clicks === '0'")
            expected = page.evaluate("() => window.defectlab.state.info.clicks.length") + 1
            page.mouse.click(*image_to_screen(page, x, y), button="left" if positive else "right")
            page.wait_for_function(
                f"() => document.getElementById('stage').dataset.clicks === '{expected}'", timeout=60_000
            )
            latencies.append(float(page.get_attribute("#stage", "data-latency")))
        if screenshot:
            page.screenshot(path=str(screenshot))
    return {"click_to_paint": percentiles(latencies)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("fake", "adclick", "adclick-untrained"), default="fake",
                        help="adclick-untrained: the real model with random head weights (same compute, "
                             "meaningless masks), for timing before a checkpoint exists")
    parser.add_argument("--images", type=Path, help="folder of images (default: Magnetic Tile or synthetic)")
    parser.add_argument("--normal", type=Path, help="folder of normal images (with --images)")
    parser.add_argument("--synthetic", action="store_true", help="use generated images even if Magnetic Tile is there")
    parser.add_argument("--size", type=int, default=1024, help="side of the generated images (default: %(default)s)")
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--browser", action="store_true", help="also measure click-to-paint in headless Chromium")
    parser.add_argument("--browser-clicks", type=int, default=60)
    parser.add_argument("--screenshot", type=Path, help="with --browser: save a screenshot after the run")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.images and not args.normal:
        parser.error("--images needs --normal")

    from defectlab.app.server import create_app
    from defectlab.app.testing import serve

    factories = {}
    if args.engine == "fake":
        from defectlab.app.fake import fake_reference_factory, fake_session_factory

        factories = {"session_factory": fake_session_factory, "reference_factory": fake_reference_factory}
    elif args.engine == "adclick-untrained":
        import torch

        from defectlab.app.labeller import ADClickEngine
        from defectlab.click import ClickConfig, ClickHead, ClickModel

        torch.manual_seed(0)
        config = ClickConfig()
        engine = ADClickEngine(model=ClickModel(head=ClickHead(config.head), config=config))
        factories = {"session_factory": engine.session, "reference_factory": engine.reference}
    with tempfile.TemporaryDirectory() as tmp:
        images, normal, exclude = pick_data(args, Path(tmp))
        app = create_app(images, normal, Path(tmp) / "out", exclude=exclude, max_normal=16,
                         wait_timeout=600, **factories)
        results = {"engine": args.engine, "images": str(images)}
        with serve(app) as url:
            results["http"] = bench_http(url, args.clicks, args.seed)
            if args.browser:
                results["browser"] = bench_browser(url, args.browser_clicks, args.seed, args.screenshot)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    p95 = results["http"]["round_trip"]["p95_ms"]
    print(f"click round trip p95 = {p95} ms ({'meets' if p95 <= 100 else 'MISSES'} the 100 ms target)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
