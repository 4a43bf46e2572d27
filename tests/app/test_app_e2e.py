"""End to end in headless Chromium: click on a defect, see the mask, undo, click again, save, check the PNG.

Runs on the fake click session (a disk per click) so it is fast and exact.
Under CI (env CI set) a missing Chromium fails the test instead of skipping:
the browser test is the one that proves the page works.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from defectlab.app.testing import browser_page, canvas_pixel, image_to_screen, require_browser, serve
from defectlab.data.io import load_mask

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = REPO_ROOT / "test-artifacts" / "label_app.png"


def stage(page, key: str) -> str:
    return page.get_attribute("#stage", f"data-{key}") or ""


def wait_stage(page, condition: str, timeout=15000):
    """Wait for a condition on #stage's data attributes, e.g. "s.clicks === '1'"."""
    page.wait_for_function(f"() => {{ const s = document.getElementById('stage').dataset; return {condition}; }}",
                           timeout=timeout)


def next_frame(page):
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_click_undo_click_save_in_a_real_browser(make_app, tmp_path):
    chromium = require_browser()
    app = make_app(cache_size=3)
    errors: list[str] = []
    with serve(app) as url, browser_page(chromium, tmp_path / "chromium-profile") as page:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url + "/")
        wait_stage(page, "s.state === 'ready'", timeout=30000)
        assert page.inner_text("#image-name") == "part_00.jpg"
        assert "0 / 4 done" in page.inner_text("#progress-text")

        # The scratch in the test images runs along row 32, columns 40-89.
        sx, sy = image_to_screen(page, 65, 32)
        probe = image_to_screen(page, 68, 32)  # inside the mask, clear of the click marker
        before = canvas_pixel(page, *probe)
        page.mouse.click(sx, sy)
        wait_stage(page, "s.clicks === '1' && Number(s.area) > 0")
        next_frame(page)
        tinted = canvas_pixel(page, *probe)
        assert tinted[0] > before[0] + 20 and tinted[0] > tinted[1] + 20, (before, tinted)  # the red overlay shows

        page.keyboard.press("Control+z")
        wait_stage(page, "s.clicks === '0' && s.area === '0'")
        next_frame(page)
        assert abs(canvas_pixel(page, *probe)[0] - before[0]) <= 3  # gone again

        sx2, sy2 = image_to_screen(page, 50, 32)
        page.mouse.click(sx2, sy2)
        wait_stage(page, "s.clicks === '1' && Number(s.area) > 0")
        page.mouse.click(*image_to_screen(page, 80, 32))
        wait_stage(page, "s.clicks === '2'")
        # A negative click (right button) next to the scratch trims the mask.
        area_before = int(stage(page, "area"))
        page.mouse.click(*image_to_screen(page, 57, 44), button="right")
        wait_stage(page, f"s.clicks === '3' && Number(s.area) < {area_before}")

        page.fill("#defect-type", "Scratch")
        page.keyboard.press("Enter")  # leaves the field, so the next key is a shortcut
        page.wait_for_timeout(300)
        ARTIFACT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(tmp_path / "label_app.png"))
        shutil.copyfile(tmp_path / "label_app.png", ARTIFACT)
        shown_area = int(stage(page, "area"))

        page.keyboard.press("s")
        page.wait_for_function("() => document.getElementById('stage').dataset.saved", timeout=15000)
        assert stage(page, "saved") == "ground_truth/scratch/part_00_mask.png"
        # Saving moves on to the next image and marks this one in the list.
        page.wait_for_function("() => document.getElementById('image-name').textContent === 'part_01.png'")
        assert "1 / 4 done" in page.inner_text("#progress-text")
        assert "labelled" in page.get_attribute("#image-list li:first-child", "class")

    out = app.state.labeller.store.out_dir
    saved = load_mask(out / "ground_truth/scratch/part_00_mask.png")
    assert saved.shape == (96, 128)
    assert saved[32, 50] and saved[32, 80] and not saved[32, 25]
    assert not saved[32, 65]  # the first click was undone
    assert int(saved.sum()) == shown_area
    assert not saved[39, 54]  # within the first disk, removed by the negative click
    assert (out / "test/scratch/part_00.jpg").is_file()
    assert not errors, errors


def test_brush_eraser_and_no_defect_in_a_real_browser(make_app, tmp_path):
    chromium = require_browser()
    app = make_app()
    with serve(app) as url, browser_page(chromium, tmp_path / "chromium-profile") as page:
        page.goto(url + "/")
        wait_stage(page, "s.state === 'ready'", timeout=30000)
        page.keyboard.press("b")
        page.mouse.move(*image_to_screen(page, 10, 70))
        page.mouse.down()
        page.mouse.move(*image_to_screen(page, 60, 70), steps=10)
        page.mouse.up()
        wait_stage(page, "Number(s.area) > 200")
        painted = int(stage(page, "area"))
        page.keyboard.press("e")
        page.mouse.move(*image_to_screen(page, 30, 60))
        page.mouse.down()
        page.mouse.move(*image_to_screen(page, 30, 80), steps=5)
        page.mouse.up()
        wait_stage(page, f"Number(s.area) < {painted}")
        # The server holds what the page shows.
        id_ = page.evaluate("() => window.defectlab.state.current")
        annotation = app.state.labeller.pool.peek(id_)
        page.wait_for_function("() => document.getElementById('latency').textContent.startsWith('mask')")
        assert int(annotation.mask.sum()) == int(stage(page, "area"))

        # Shift+click is a negative click too.
        erased = int(stage(page, "area"))
        page.keyboard.press("c")
        page.keyboard.down("Shift")
        page.mouse.click(*image_to_screen(page, 50, 70))
        page.keyboard.up("Shift")
        wait_stage(page, f"s.clicks === '1' && Number(s.area) < {erased}")
        assert app.state.labeller.pool.peek(id_).clicks == ((50, 70, False),)

        page.keyboard.press("g")
        page.wait_for_function("() => document.getElementById('image-name').textContent === 'part_01.png'")
        assert "no defect" in page.inner_text("#image-list li:first-child")
    assert (app.state.labeller.store.out_dir / "test/good/part_00.jpg").is_file()
