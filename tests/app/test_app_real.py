"""The app on ADClick's real ClickSession instead of the fake (slow: a backbone runs).

With untrained head weights the masks mean nothing, but everything the app
relies on is real: shapes, the session's own undo semantics, brush edits fed
back as the previous mask, prompts through the text encoder, and the time a
click takes. With the shipped checkpoint (when present) a click on the
scratch must also give a plausible mask, in the API and in the browser.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from defectlab.app import rle

pytestmark = pytest.mark.slow

click = pytest.importorskip("defectlab.click")


@pytest.fixture(scope="module")
def untrained_engine():
    import torch

    from defectlab.app.labeller import ADClickEngine

    torch.manual_seed(0)
    config = click.ClickConfig()
    model = click.ClickModel(head=click.ClickHead(config.head), config=config)
    return ADClickEngine(model=model)


def shipped_engine(fill: bool = True):
    from defectlab.app.labeller import ADClickEngine

    if not click.DEFAULT_CHECKPOINT.is_file():
        pytest.skip(f"no shipped ADClick checkpoint at {click.DEFAULT_CHECKPOINT}")
    return ADClickEngine(fill=fill)


def mask_of(result):
    h, w = result["mask"]["size"]
    return rle.decode(result["mask"]["counts"], h, w)


def test_api_on_the_real_click_session(make_app, untrained_engine):
    app = make_app(session_factory=untrained_engine.session, reference_factory=untrained_engine.reference,
                   wait_timeout=300)
    with TestClient(app) as client:
        id_ = client.get("/api/state").json()["images"][0]["id"]
        info = client.get(f"/api/images/{id_}?wait=30").json()
        while not info["ready"]:
            info = client.get(f"/api/images/{id_}?wait=30").json()
        session = app.state.labeller.pool.peek(id_).session
        assert type(session).__name__ == "ClickSession"

        first = client.post(f"/api/images/{id_}/click", json={"x": 65, "y": 32}).json()
        assert first["mask"]["size"] == [96, 128] and first["clicks"] == [[65, 32, True]]
        second = client.post(f"/api/images/{id_}/click", json={"x": 20, "y": 70, "positive": False}).json()
        assert len(second["clicks"]) == 2
        undone = client.post(f"/api/images/{id_}/undo", json={}).json()
        assert np.array_equal(mask_of(undone), mask_of(first))
        assert np.array_equal(session.mask, mask_of(first)) and len(session.clicks) == 1

        painted = mask_of(undone)
        painted[80:90, 10:40] = True
        edited = client.put(f"/api/images/{id_}/mask", json={"size": [96, 128], "counts": rle.encode(painted)}).json()
        assert np.array_equal(mask_of(edited), painted) and np.array_equal(session.mask, painted)
        reset = client.post(f"/api/images/{id_}/reset", json={}).json()
        assert not mask_of(reset).any()
        back = client.post(f"/api/images/{id_}/undo", json={}).json()
        assert np.array_equal(mask_of(back), painted) and np.array_equal(session.mask, painted)

        prompted = client.put(f"/api/images/{id_}/prompt", json={"defect_type": "scratch"})
        assert prompted.status_code == 200 and prompted.json()["prompt"] == "scratch"
        assert session.prompt == "scratch"

        # fill between clicks: on by default, switched per image, an undoable step, kept in the draft
        assert prompted.json()["fill"] is True and session.fill
        off = client.put(f"/api/images/{id_}/fill", json={"fill": False}).json()
        assert off["fill"] is False and not session.fill and off["can_undo"]
        annotation = app.state.labeller.pool.peek(id_)
        draft = annotation.draft()
        assert draft["fill"] is False
        on = client.post(f"/api/images/{id_}/undo", json={}).json()
        assert on["fill"] is True and session.fill
        annotation.restore_draft(draft)
        assert annotation.fill is False and not session.fill
        assert client.put(f"/api/images/{id_}/fill", json={"fill": True}).json()["fill"] is True

        saved = client.post(f"/api/images/{id_}/save", json={"defect_type": "scratch"})
        assert saved.status_code == 200, saved.text
        heat = client.get(f"/api/images/{id_}/heatmap")
        assert heat.status_code == 200 and heat.content[:4] == b"\x89PNG"

        times = []
        for i in range(15):
            t0 = time.perf_counter()
            response = client.post(f"/api/images/{id_}/click", json={"x": 10 + 7 * i, "y": 40, "positive": i % 3 != 2})
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        print(f"real ClickSession (untrained head), 128x96: click p50 {np.median(times):.1f} ms, "
              f"p95 {np.percentile(times, 95):.1f} ms")


@pytest.mark.parametrize("fill", [False, True])
def test_shipped_checkpoint_masks_the_clicked_scratch(make_app, fill):
    engine = shipped_engine(fill)
    app = make_app(session_factory=engine.session, reference_factory=engine.reference, wait_timeout=300)
    with TestClient(app) as client:
        id_ = client.get("/api/state").json()["images"][0]["id"]
        result = client.post(f"/api/images/{id_}/click", json={"x": 65, "y": 32}).json()
        assert app.state.labeller.pool.peek(id_).session.fill is fill
        mask = mask_of(result)
        assert mask.any() and mask.mean() < 0.5  # one click on a thin scratch must not paint the image


def test_shipped_checkpoint_in_a_real_browser(make_app, tmp_path):
    from defectlab.app.testing import browser_page, image_to_screen, require_browser, serve
    from defectlab.data.io import load_mask

    engine = shipped_engine()
    chromium = require_browser()
    app = make_app(session_factory=engine.session, reference_factory=engine.reference, wait_timeout=300)
    with serve(app) as url, browser_page(chromium, tmp_path / "profile") as page:
        page.goto(url + "/")
        page.wait_for_function("() => document.getElementById('stage').dataset.state === 'ready'", timeout=300_000)
        page.mouse.click(*image_to_screen(page, 65, 32))
        page.wait_for_function("() => document.getElementById('stage').dataset.clicks === '1'", timeout=60_000)
        page.fill("#defect-type", "scratch")
        page.keyboard.press("Enter")  # sends the prompt; the model may redraw the mask
        page.wait_for_function("() => document.getElementById('latency').textContent.startsWith('prompt')",
                               timeout=120_000)
        assert page.is_checked("#fill") and page.get_attribute("#stage", "data-fill") == "true"
        page.keyboard.press("l")  # fill off for this image (the server's answer sets data-fill), and on again
        page.wait_for_function("() => document.getElementById('stage').dataset.fill === 'false'", timeout=60_000)
        assert not page.is_checked("#fill")
        page.click("#fill")
        page.wait_for_function("() => document.getElementById('stage').dataset.fill === 'true'", timeout=60_000)
        area = int(page.get_attribute("#stage", "data-area"))
        assert 0 < area < 96 * 128 / 2
        page.keyboard.press("s")
        page.wait_for_function("() => document.getElementById('stage').dataset.saved", timeout=60_000)
    saved = load_mask(app.state.labeller.store.out_dir / "ground_truth/scratch/part_00_mask.png")
    assert int(saved.sum()) == area


def test_warm_up_loads_the_text_encoder_so_the_first_prompt_is_quick(untrained_engine):
    import threading

    from defectlab.app.labeller import ADClickEngine

    model = untrained_engine.model()
    if model.config.text_encoder is None:
        pytest.skip("this configuration takes no prompts")
    engine = ADClickEngine(model=click.ClickModel(head=model.head, config=model.config))
    threads = [threading.Thread(target=engine.warm_up) for _ in range(2)]  # the worker may ask at the same time
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert engine.model()._text is not None
    started = time.perf_counter()
    engine.model().embed_prompt("scratch on metal")
    assert time.perf_counter() - started < 2.0


def test_click_session_hands_its_history_over_and_restores_a_step_in_one_run(untrained_engine):
    rng = np.random.default_rng(3)
    image = (120 + rng.normal(0, 8, (96, 128, 3))).clip(0, 255).astype(np.uint8)
    reference = untrained_engine.reference([image.copy() for _ in range(2)])
    session = untrained_engine.session(image, reference, None)
    for x, y, p in [(65, 32, True), (20, 70, False), (90, 50, True)]:
        session.add_click(x, y, p)
        clicks, prev = session.forget_history()
        assert not session.can_undo and prev.dtype == bool and prev.shape == tuple(session.features.size)
    mask, probability = session.mask, session.probability
    session.reset()
    session.restore(clicks, prev=prev)
    assert np.array_equal(session.mask, mask) and np.allclose(session.probability, probability)
    assert [(c.x, c.y, c.positive) for c in session.clicks] == [(65, 32, True), (20, 70, False), (90, 50, True)]
    painted = np.zeros_like(mask)
    painted[10:20, 10:20] = True
    session.restore(clicks, mask=painted)
    assert np.array_equal(session.mask, painted) and session.forget_history()[1] is None
    session.add_click(100, 80, True)  # the painted mask is the next click's previous-mask input
    assert len(session.clicks) == 4
    with pytest.raises(ValueError):
        session.restore(clicks, prev=np.zeros((3, 3), bool))
