"""The page's behaviours from issue #18, each in headless Chromium on the fake click session.

A click after a brush or eraser stroke keeps the stroke; the defect-type field
shows the image's own prompt after a restart; opening an image does not mark
it unsaved; a prompt can be cleared; a click made while the model for defect
types is still loading shows that it waits, and is applied after.
"""

from __future__ import annotations

import threading
import time

import pytest

from defectlab.app.testing import browser_page, image_to_screen, require_browser, serve

pytestmark = pytest.mark.e2e


def wait_stage(page, condition: str, timeout=15000):
    page.wait_for_function(f"() => {{ const s = document.getElementById('stage').dataset; return {condition}; }}",
                           timeout=timeout)


def open_page(page, url):
    page.goto(url + "/")
    wait_stage(page, "s.state === 'ready'", timeout=30000)


def current(page, app):
    return app.state.labeller.pool.peek(page.evaluate("() => window.defectlab.state.current"))


def drag(page, tool: str, start, end):
    page.keyboard.press(tool)
    page.mouse.move(*image_to_screen(page, *start))
    page.mouse.down()
    page.mouse.move(*image_to_screen(page, *end), steps=8)
    page.mouse.up()
    page.wait_for_function("() => document.getElementById('latency').textContent.startsWith('mask')")
    page.evaluate("() => document.getElementById('latency').textContent = ''")


def set_type(page, text: str):
    page.fill("#defect-type", text)
    page.keyboard.press("Enter")  # leaves the field and sends the prompt


def test_a_click_after_brush_and_eraser_keeps_the_strokes(make_app, tmp_path):
    chromium = require_browser()
    app = make_app()
    with serve(app) as url, browser_page(chromium, tmp_path / "profile") as page:
        open_page(page, url)
        page.mouse.click(*image_to_screen(page, 65, 32))  # a disk of radius 10 on the scratch
        wait_stage(page, "s.clicks === '1'")
        disk = current(page, app).mask.copy()
        drag(page, "b", (10, 70), (60, 70))  # a painted stroke, rows ~62-78
        drag(page, "e", (72, 20), (72, 44))  # an erased band through the disk's right part
        edited = current(page, app).mask.copy()
        stroke = edited & ~disk
        band = disk & ~edited
        assert stroke[70, 30] and band[32, 72]
        page.keyboard.press("c")
        # A negative click just below the painted stroke: its disk reaches into it.
        page.mouse.click(*image_to_screen(page, 35, 86), button="right")
        wait_stage(page, "s.clicks === '2'")
        # A positive click beside the erased band: its disk covers it.
        page.mouse.click(*image_to_screen(page, 80, 32))
        wait_stage(page, "s.clicks === '3'")
        a = current(page, app)
        assert a.mask[stroke].all()  # the brush stroke survived the negative click's disk
        assert not a.mask[band].any()  # the erased band stayed off under the positive click's disk
        assert a.mask[32, 80] and a.mask[32, 85]
        assert int(page.get_attribute("#stage", "data-area")) == int(a.mask.sum())  # the page shows the same
        # A click on the erased band hands it back to the model.
        page.mouse.click(*image_to_screen(page, 72, 32))
        wait_stage(page, "s.clicks === '4'")
        assert current(page, app).mask[32, 72]


def test_after_a_restart_the_field_shows_the_images_prompt(make_app, tmp_path):
    chromium = require_browser()
    out = tmp_path / "out"
    with browser_page(chromium, tmp_path / "profile") as page:
        app = make_app(out_dir=out)
        with serve(app) as url:
            open_page(page, url)
            page.mouse.click(*image_to_screen(page, 65, 32))
            wait_stage(page, "s.clicks === '1'")
            set_type(page, "Hair crack")
            page.wait_for_function("() => window.defectlab.state.info.prompt === 'hair crack'")
        # Stopped unsaved (the draft keeps clicks and prompt); started again on the same folder.
        with serve(make_app(out_dir=out)) as url:
            open_page(page, url)
            assert page.input_value("#defect-type") == "hair crack"
            assert page.get_attribute("#stage", "data-clicks") == "1"


def test_opening_an_image_does_not_mark_it_unsaved(make_app, tmp_path):
    chromium = require_browser()
    app = make_app()
    with serve(app) as url, browser_page(chromium, tmp_path / "profile") as page:
        open_page(page, url)
        set_type(page, "crack")  # applies to this image and, from the field, to the next ones
        page.wait_for_function("() => window.defectlab.state.info.prompt === 'crack'")
        page.keyboard.press("n")
        page.wait_for_function("() => document.getElementById('image-name').textContent === 'part_01.png'")
        wait_stage(page, "s.state === 'ready'")
        page.wait_for_function("() => window.defectlab.state.info.prompt === 'crack'")
        assert page.locator("#image-list li.unsaved").count() == 0
        assert "unsaved" not in page.inner_text("#click-info")
        assert not current(page, app).dirty
        page.mouse.click(*image_to_screen(page, 65, 32))  # a real change is still one
        page.wait_for_selector("#image-list li.current.unsaved")


def test_the_prompt_can_be_cleared(make_app, tmp_path):
    chromium = require_browser()
    app = make_app()
    with serve(app) as url, browser_page(chromium, tmp_path / "profile") as page:
        open_page(page, url)
        set_type(page, "scratch")
        page.wait_for_function("() => window.defectlab.state.info.prompt === 'scratch'")
        set_type(page, "")
        page.wait_for_function("() => window.defectlab.state.info.prompt === null")
        assert current(page, app).session.prompt is None


def test_a_click_while_the_model_loads_shows_that_it_waits(make_app, tmp_path):
    chromium = require_browser()
    loaded = threading.Event()
    app = make_app(warm_up=lambda: loaded.wait(30))  # stands for the text encoder's load at start
    with serve(app) as url, browser_page(chromium, tmp_path / "profile") as page:
        open_page(page, url)  # no prompt yet: the image itself does not wait for the model
        set_type(page, "crack")
        page.mouse.click(*image_to_screen(page, 65, 32))
        page.wait_for_selector("#model-status", state="visible", timeout=5000)
        assert page.get_attribute("#stage", "data-model") == "loading"
        time.sleep(0.5)
        assert page.get_attribute("#stage", "data-clicks") == "0"  # queued, visibly, not lost
        assert "model" in page.inner_text("#toast")
        loaded.set()
        wait_stage(page, "s.clicks === '1' && s.model === 'ready'", timeout=20000)
        assert page.is_hidden("#model-status")
        a = current(page, app)
        assert a.prompt == "crack" and a.clicks == ((65, 32, True),)
        assert [step.kind for step in a._history] == ["start", "prompt", "click"]  # the prompt first
