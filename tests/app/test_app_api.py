"""The JSON API on the fake click session: clicks, history, brush edits, saving, statuses."""

from __future__ import annotations

import numpy as np
import pytest

from defectlab.app import rle
from defectlab.data.io import load_mask


def ids(client) -> list[str]:
    return [im["id"] for im in client.get("/api/state").json()["images"]]


def mask_of(result: dict) -> np.ndarray:
    height, width = result["mask"]["size"]
    return rle.decode(result["mask"]["counts"], height, width)


def click(client, id_, x, y, positive=True) -> dict:
    response = client.post(f"/api/images/{id_}/click", json={"x": x, "y": y, "positive": positive})
    assert response.status_code == 200, response.text
    return response.json()


def test_state_lists_images_with_statuses_and_progress(client):
    state = client.get("/api/state").json()
    assert [im["name"] for im in state["images"]] == ["part_00.jpg", "part_01.png", "part_02.jpg", "part_03.png"]
    assert {im["status"] for im in state["images"]} == {"unlabelled"}
    assert state["progress"] == {"total": 4, "done": 0, "unlabelled": 4, "labelled": 0, "no_defect": 0, "skipped": 0}
    assert state["current"] == state["images"][0]["id"]
    assert all(len(im["id"]) == 16 and "/" not in im["id"] for im in state["images"])


def test_open_reports_size_and_becomes_ready(client):
    first = ids(client)[0]
    opened = client.post(f"/api/images/{first}/open", json={}).json()
    assert (opened["width"], opened["height"]) == (128, 96)
    info = client.get(f"/api/images/{first}?wait=10").json()
    assert info["ready"] and info["clicks"] == [] and info["mask"]["counts"] == [128 * 96]


def test_click_grows_the_mask_and_negative_click_removes(client):
    id_ = ids(client)[0]
    first = click(client, id_, 60, 32)
    mask = mask_of(first)
    assert mask[32, 60] and mask.sum() > 100
    assert first["clicks"] == [[60, 32, True]] and first["can_undo"] and not first["can_redo"]
    assert first["dirty"] and first["server_ms"] >= 0
    second = click(client, id_, 66, 32, positive=False)
    assert not mask_of(second)[32, 66]
    assert mask_of(second).sum() < mask.sum()


def test_undo_redo_reset_walk_the_history(client):
    id_ = ids(client)[0]
    click(client, id_, 60, 32)
    after_two = click(client, id_, 20, 20)
    undone = client.post(f"/api/images/{id_}/undo", json={}).json()
    assert undone["clicks"] == [[60, 32, True]] and undone["can_redo"]
    assert not mask_of(undone)[20, 20]
    redone = client.post(f"/api/images/{id_}/redo", json={}).json()
    assert np.array_equal(mask_of(redone), mask_of(after_two))
    reset = client.post(f"/api/images/{id_}/reset", json={}).json()
    assert reset["clicks"] == [] and not mask_of(reset).any()
    back = client.post(f"/api/images/{id_}/undo", json={}).json()  # reset is undoable too
    assert back["clicks"] == [[60, 32, True], [20, 20, True]]
    assert np.array_equal(mask_of(back), mask_of(after_two))


def test_undo_and_redo_at_the_ends_do_nothing(client):
    id_ = ids(client)[0]
    state = client.post(f"/api/images/{id_}/undo", json={}).json()
    assert not state["can_undo"] and state["clicks"] == []
    state = client.post(f"/api/images/{id_}/redo", json={}).json()
    assert not state["can_redo"]


def test_brush_edit_is_kept_refined_and_undoable(client):
    id_ = ids(client)[0]
    clicked = mask_of(click(client, id_, 60, 32))
    painted = clicked.copy()
    painted[80:90, 100:120] = True
    response = client.put(
        f"/api/images/{id_}/mask", json={"size": [96, 128], "counts": rle.encode(painted)}
    )
    assert response.status_code == 200, response.text
    assert np.array_equal(mask_of(response.json()), painted)
    # The next click starts from the painted mask: the brushed area survives it.
    after = mask_of(click(client, id_, 20, 20))
    assert after[85, 110] and after[20, 20]
    client.post(f"/api/images/{id_}/undo", json={})
    undone = mask_of(client.post(f"/api/images/{id_}/undo", json={}).json())
    assert np.array_equal(undone, clicked)


def test_save_writes_mvtec_layout_and_manifest(client, folders):
    images_dir, _ = folders
    original = (images_dir / "part_00.jpg").read_bytes()
    id_ = ids(client)[0]
    click(client, id_, 60, 32)
    client.post(f"/api/images/{id_}/undo", json={})
    expected = mask_of(click(client, id_, 60, 32))
    response = client.post(f"/api/images/{id_}/save", json={"defect_type": "Hair crack"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entry"]["defect_type"] == "hair_crack"
    assert body["progress"]["labelled"] == 1 and body["defect_types"] == ["hair_crack"]
    assert not body["dirty"]
    out = client.app.state.labeller.store.out_dir
    saved = load_mask(out / "ground_truth/hair_crack/part_00_mask.png")
    assert np.array_equal(saved, expected)
    assert (out / "test/hair_crack/part_00.jpg").read_bytes() == original
    assert (images_dir / "part_00.jpg").read_bytes() == original
    entry = client.app.state.labeller.store.entry(client.app.state.labeller.store.records[0])
    assert entry["clicks"] == 1 and entry["clicks_total"] == 2 and entry["labelled_by"]
    assert entry["labelled_at"].endswith("+00:00")
    state = client.get("/api/state").json()
    assert state["images"][0]["status"] == "labelled" and state["images"][0]["defect_type"] == "hair_crack"


def test_relabelling_with_another_type_moves_the_files(client):
    id_ = ids(client)[0]
    click(client, id_, 60, 32)
    client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
    client.post(f"/api/images/{id_}/save", json={"defect_type": "scratch"})
    out = client.app.state.labeller.store.out_dir
    assert (out / "ground_truth/scratch/part_00_mask.png").exists()
    assert not (out / "ground_truth/crack").exists() and not (out / "test/crack").exists()
    assert client.get("/api/state").json()["defect_types"] == ["crack", "scratch"]


def test_empty_mask_cannot_be_saved(client):
    id_ = ids(client)[0]
    response = client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
    assert response.status_code == 422
    assert "No defect" in response.json()["detail"]
    assert not (client.app.state.labeller.store.out_dir / "ground_truth").exists()


def test_no_defect_goes_to_test_good_and_replaces_a_mask(client):
    id_ = ids(client)[0]
    click(client, id_, 60, 32)
    client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
    response = client.post(f"/api/images/{id_}/no-defect", json={})
    assert response.status_code == 200
    assert response.json()["progress"]["no_defect"] == 1
    out = client.app.state.labeller.store.out_dir
    assert (out / "test/good/part_00.jpg").is_file()
    assert not (out / "ground_truth/crack/part_00_mask.png").exists()
    assert not (out / "test/crack/part_00.jpg").exists()


def test_skip_counts_as_not_done(client):
    id_ = ids(client)[1]
    body = client.post(f"/api/images/{id_}/skip", json={}).json()
    assert body["entry"]["status"] == "skipped"
    assert body["progress"]["skipped"] == 1 and body["progress"]["done"] == 0


def test_prompt_follows_the_defect_type(client):
    id_ = ids(client)[0]
    response = client.put(f"/api/images/{id_}/prompt", json={"defect_type": "Hair-crack"})
    assert response.status_code == 200
    assert response.json()["prompt"] == "hair crack"
    assert client.app.state.labeller.pool.peek(id_).session.prompt == "hair crack"
    undone = client.post(f"/api/images/{id_}/undo", json={}).json()
    assert undone["prompt"] is None


def test_fill_cannot_be_switched_on_a_model_without_it(client):
    id_ = ids(client)[0]
    assert client.post(f"/api/images/{id_}/click", json={"x": 5, "y": 5}).json()["fill"] is None  # the fake has none
    response = client.put(f"/api/images/{id_}/fill", json={"fill": False})
    assert response.status_code == 409 and "fill" in response.json()["detail"]
    assert client.put(f"/api/images/{id_}/fill", json={"fill": "maybe"}).status_code == 422


def test_image_and_heatmap_are_served_by_id(client, folders):
    images_dir, _ = folders
    id_ = ids(client)[1]
    image = client.get(f"/api/images/{id_}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == (images_dir / "part_01.png").read_bytes()
    heat = client.get(f"/api/images/{id_}/heatmap")
    assert heat.status_code == 200 and heat.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_tiff_is_converted_for_the_browser(make_app, folders):
    from fastapi.testclient import TestClient
    from PIL import Image

    images_dir, _ = folders
    Image.new("L", (20, 10), 90).save(images_dir / "zz.tif")
    with TestClient(make_app()) as client:
        id_ = ids(client)[-1]
        response = client.get(f"/api/images/{id_}/image")
    assert response.headers["content-type"] == "image/png"
    assert response.content[:4] == b"\x89PNG"


def test_page_and_assets_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "defectlab label" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("app.js", "api.js", "mask.js", "viewer.js", "app.css"):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert "https://" not in response.text
    assert client.get("/static/missing.js").status_code == 404


@pytest.mark.parametrize("action", ["undo", "redo", "reset", "skip", "no-defect"])
def test_actions_on_unknown_ids_are_404(client, action):
    response = client.post(f"/api/images/{'f' * 16}/{action}", json={})
    assert response.status_code == 404


def test_a_prompt_waits_for_the_model_loading_in_the_background_and_clicks_do_not(make_app):
    import threading
    import time

    from fastapi.testclient import TestClient

    loaded = threading.Event()
    with TestClient(make_app(warm_up=lambda: loaded.wait(30))) as client:
        assert client.get("/api/state").json()["model"] == {"ready": False}
        id_ = ids(client)[0]
        assert not click(client, id_, 10, 10)["model_ready"]
        answered = {}
        prompt = threading.Thread(target=lambda: answered.update(
            r=client.put(f"/api/images/{id_}/prompt", json={"defect_type": "crack"})))
        prompt.start()
        time.sleep(0.3)
        assert prompt.is_alive()  # waiting for the model...
        started = time.monotonic()
        click(client, id_, 60, 32)  # ...without holding the image: a click is answered meanwhile
        assert time.monotonic() - started < 2
        loaded.set()
        prompt.join(10)
        assert answered["r"].status_code == 200 and answered["r"].json()["prompt"] == "crack"
        assert answered["r"].json()["model_ready"] and client.get("/api/state").json()["model"]["ready"]


def test_a_prompt_gives_up_waiting_with_a_503(make_app):
    import threading

    from fastapi.testclient import TestClient

    never = threading.Event()
    with TestClient(make_app(warm_up=lambda: never.wait(30), wait_timeout=0.5)) as client:
        id_ = ids(client)[0]
        client.get(f"/api/images/{id_}?wait=10")
        response = client.put(f"/api/images/{id_}/prompt", json={"defect_type": "crack"})
        assert response.status_code == 503 and "loading" in response.json()["detail"]
        assert client.put(f"/api/images/{id_}/prompt", json={"defect_type": None}).status_code == 200
        never.set()
