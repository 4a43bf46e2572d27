"""Outputs on disk: atomic writes, link or copy, resuming after a restart, originals untouched."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from fastapi.testclient import TestClient

from defectlab.app import atomic
from defectlab.app.store import LabelStore
from defectlab.data.io import list_images, load_mask


def digest_folder(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def image_ids(client) -> list[str]:
    return [im["id"] for im in client.get("/api/state").json()["images"]]


def test_restart_resumes_statuses_current_image_and_unsaved_clicks(make_app, tmp_path):
    with TestClient(make_app()) as client:
        ids = image_ids(client)
        client.post(f"/api/images/{ids[0]}/click", json={"x": 60, "y": 32})
        client.post(f"/api/images/{ids[0]}/save", json={"defect_type": "crack"})
        client.post(f"/api/images/{ids[1]}/no-defect", json={})
        client.post(f"/api/images/{ids[2]}/open", json={})
        draft = client.post(f"/api/images/{ids[2]}/click", json={"x": 20, "y": 20}).json()
        client.post(f"/api/images/{ids[2]}/click", json={"x": 80, "y": 60, "positive": False})
    # A new server on the same output folder: what a restart does.
    with TestClient(make_app()) as client:
        state = client.get("/api/state").json()
        assert [im["status"] for im in state["images"]] == ["labelled", "no_defect", "unlabelled", "unlabelled"]
        assert state["current"] == ids[2]
        assert state["images"][2]["unsaved"]
        assert state["defect_types"] == ["crack"]
        resumed = client.get(f"/api/images/{ids[2]}?wait=10").json()
        assert resumed["clicks"] == [[20, 20, True], [80, 60, False]]
        assert resumed["dirty"]
        assert np.array_equal(resumed["mask"]["counts"], draft["mask"]["counts"])
        # A labelled image reopens with its saved mask, ready to touch up.
        labelled = client.get(f"/api/images/{ids[0]}?wait=10").json()
        assert labelled["mask"]["counts"] != [128 * 96] and not labelled["dirty"]


def test_draft_keeps_brush_edits_across_restart(make_app):
    painted = np.zeros((96, 128), bool)
    painted[10:20, 10:60] = True
    from defectlab.app import rle

    with TestClient(make_app()) as client:
        id_ = image_ids(client)[3]
        client.put(f"/api/images/{id_}/mask", json={"size": [96, 128], "counts": rle.encode(painted)})
    with TestClient(make_app()) as client:
        info = client.get(f"/api/images/{id_}?wait=10").json()
        assert np.array_equal(rle.decode(info["mask"]["counts"], 96, 128), painted)


def test_originals_are_never_modified(make_app, folders):
    images_dir, normal_dir = folders
    before, normals_before = digest_folder(images_dir), digest_folder(normal_dir)
    with TestClient(make_app()) as client:
        for i, id_ in enumerate(image_ids(client)):
            client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
            if i % 2:
                client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
            else:
                client.post(f"/api/images/{id_}/no-defect", json={})
            client.post(f"/api/images/{id_}/skip", json={})
    assert digest_folder(images_dir) == before
    assert digest_folder(normal_dir) == normals_before


def test_link_mode_makes_symlinks(make_app, folders):
    images_dir, _ = folders
    with TestClient(make_app(placement="link")) as client:
        id_ = image_ids(client)[0]
        client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
        client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
        out = client.app.state.labeller.store.out_dir
    placed = out / "test/crack/part_00.jpg"
    assert placed.is_symlink()
    assert os.path.samefile(placed, images_dir / "part_00.jpg")


def test_output_inside_the_images_folder_never_overwrites_an_original(folders, tmp_path):
    images_dir, _ = folders
    # Pointing --out at the folder that holds the image as test/crack/<name>.
    out = tmp_path / "weird"
    inner = out / "test" / "crack"
    inner.mkdir(parents=True)
    original = inner / "a.png"
    original.write_bytes((images_dir / "part_01.png").read_bytes())
    before = original.read_bytes()
    store = LabelStore(inner, out, list_images(inner), "tester")
    mask = np.zeros((96, 128), bool)
    mask[10:20, 10:20] = True
    with pytest.raises(RuntimeError, match="refusing to write"):
        store.save_labelled(store.records[0], mask, "crack", {})
    assert original.read_bytes() == before
    assert store.status(store.records[0]) == "unlabelled"


def test_a_failed_write_leaves_no_partial_file_and_the_old_state(make_app, monkeypatch):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        id_ = image_ids(client)[0]
        client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
        out = client.app.state.labeller.store.out_dir

        def broken_replace(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(atomic.os, "replace", broken_replace)
        monkeypatch.setattr("defectlab.data.io.os.replace", broken_replace)
        response = client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
        assert response.status_code == 500
        assert "No space left" in response.json()["detail"]
        monkeypatch.undo()
        leftovers = [p for p in out.rglob("*") if p.is_file() and p.name not in ("manifest.json", "annotations_coco.json")
                     and ".defectlab" not in p.parts]
        assert leftovers == []
        assert client.get("/api/state").json()["images"][0]["status"] == "unlabelled"
        # Once the disk is fine again the same save works.
        assert client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"}).status_code == 200


def test_manifest_records_who_when_and_how_many_clicks(make_app, tmp_path):
    with TestClient(make_app(user="ana")) as client:
        id_ = image_ids(client)[0]
        for x in (30, 60, 90):
            client.post(f"/api/images/{id_}/click", json={"x": x, "y": 32})
        client.post(f"/api/images/{id_}/undo", json={})
        client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
        out = client.app.state.labeller.store.out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["images"]["part_00.jpg"]
    assert entry["labelled_by"] == "ana"
    assert entry["clicks"] == 2 and entry["clicks_total"] == 3
    assert entry["mask"] == "ground_truth/crack/part_00_mask.png"
    assert entry["seconds"] >= 0


def test_same_stem_with_two_extensions_gets_two_names(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "a.png")
    Image.new("L", (8, 8)).save(folder / "a.jpg")
    store = LabelStore(folder, tmp_path / "out", list_images(folder), "x")
    assert sorted(r.stem for r in store.records) == ["a_jpg", "a_png"]
    mask = np.zeros((8, 8), bool)
    mask[2, 2] = True
    for record in store.records:
        store.save_labelled(record, mask, "dent", {})
    assert sorted(p.name for p in (tmp_path / "out/ground_truth/dent").iterdir()) == ["a_jpg_mask.png", "a_png_mask.png"]
    assert load_mask(tmp_path / "out/ground_truth/dent/a_png_mask.png")[2, 2]


def test_a_foreign_manifest_is_not_overwritten(folders, tmp_path):
    images_dir, _ = folders
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"something": "else"}')
    with pytest.raises(ValueError, match="not written by defectlab"):
        LabelStore(images_dir, out, list_images(images_dir), "x")
    assert (out / "manifest.json").read_text() == '{"something": "else"}'


def test_missing_mask_on_restart_is_reported_and_reset(make_app):
    with TestClient(make_app()) as client:
        id_ = image_ids(client)[0]
        client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
        client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
        out = client.app.state.labeller.store.out_dir
    (out / "ground_truth/crack/part_00_mask.png").unlink()
    with TestClient(make_app()) as client:
        state = client.get("/api/state").json()
    assert state["images"][0]["status"] == "unlabelled"
    assert any("part_00_mask.png" in w for w in state["warnings"])


def test_write_json_atomic_refuses_unserialisable_data_before_touching_the_file(tmp_path):
    path = tmp_path / "m.json"
    atomic.write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic.write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


# ------------------------------------------------------- crash consistency


def saved_folder(make_app) -> tuple:
    """An output folder with one labelled and one "no defect" image, and the server that wrote it stopped."""
    with TestClient(make_app()) as client:
        ids = image_ids(client)
        client.post(f"/api/images/{ids[0]}/click", json={"x": 60, "y": 32})
        assert client.post(f"/api/images/{ids[0]}/save", json={"defect_type": "crack"}).status_code == 200
        assert client.post(f"/api/images/{ids[1]}/no-defect", json={}).status_code == 200
        return client.app.state.labeller.store.out_dir, ids


def test_coco_is_current_when_the_save_returns(make_app):
    with TestClient(make_app()) as client:
        id_ = image_ids(client)[0]
        client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
        assert client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"}).status_code == 200
        out = client.app.state.labeller.store.out_dir
        data = json.loads((out / "annotations_coco.json").read_text())  # no background task to wait for
        assert [im["file_name"] for im in data["images"]] == ["test/crack/part_00.jpg"]
        assert len(data["annotations"]) == 1
        assert client.post(f"/api/images/{id_}/skip", json={}).status_code == 200
        assert json.loads((out / "annotations_coco.json").read_text())["images"] == []


def test_abandoned_defect_types_are_no_coco_categories(make_app):
    with TestClient(make_app()) as client:
        id_ = image_ids(client)[0]
        client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
        client.post(f"/api/images/{id_}/save", json={"defect_type": "crak"})
        client.post(f"/api/images/{id_}/save", json={"defect_type": "crack"})
        out = client.app.state.labeller.store.out_dir
    data = json.loads((out / "annotations_coco.json").read_text())
    assert [c["name"] for c in data["categories"]] == ["crack"]
    assert {a["category_id"] for a in data["annotations"]} == {data["categories"][0]["id"]}


def test_startup_removes_temp_files_and_moves_unlisted_files_to_stray(make_app):
    out, _ = saved_folder(make_app)
    referenced = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.parts[len(out.parts)] in ("test", "ground_truth")}
    temps = [out / ".manifest.json.k2j4h_9a.tmp", out / "test/crack/.part_02.jpg.abcdefgh.tmp",
             out / ".defectlab/drafts/.0123456789abcdef.json.zzzzzzzz.tmp", out / "test/scratch/.part_03_mask.png.12345678.tmp"]
    for path in temps:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    stray = out / "ground_truth/crack/part_02_mask.png"
    stray.write_bytes(b"a mask the manifest never recorded")
    (out / "train/good").mkdir(parents=True)
    (out / "train/good/.mine.abcdefgh.tmp").write_bytes(b"the user's")  # train/ is not the app's
    with TestClient(make_app()) as client:
        warnings = client.get("/api/state").json()["warnings"]
    assert not any(p.exists() for p in temps)
    assert not (out / "test/scratch").exists()  # the folder held only a temp file
    assert (out / "stray/ground_truth/crack/part_02_mask.png").read_bytes() == b"a mask the manifest never recorded"
    assert not stray.exists()
    assert all(p.read_bytes() == data for p, data in referenced.items())  # nothing the manifest names was touched
    assert (out / "train/good/.mine.abcdefgh.tmp").exists()
    assert any("stray/" in w and "part_02_mask.png" in w for w in warnings)
    assert sum("interrupted write" in w for w in warnings) == len(temps)


def test_stale_or_missing_coco_is_rebuilt_at_startup(make_app):
    out, ids = saved_folder(make_app)
    coco_path = out / "annotations_coco.json"
    older = coco_path.read_text()
    with TestClient(make_app()) as client:
        client.post(f"/api/images/{ids[2]}/no-defect", json={})
    good = json.loads(coco_path.read_text())
    coco_path.write_text(older)  # as if the process died between the manifest and the export
    with TestClient(make_app()) as client:
        assert any("rebuilt annotations_coco.json" in w for w in client.get("/api/state").json()["warnings"])
    rebuilt = json.loads(coco_path.read_text())
    assert rebuilt["images"] == good["images"] and rebuilt["annotations"] == good["annotations"]
    coco_path.unlink()
    with TestClient(make_app()):
        pass
    assert json.loads(coco_path.read_text())["annotations"] == good["annotations"]


def test_a_mask_rewritten_by_an_unrecorded_save_is_kept_and_recorded(make_app):
    from defectlab.data.io import save_png_atomic

    out, ids = saved_folder(make_app)
    newer = np.zeros((96, 128), np.uint8)
    newer[10:20, 10:30] = 255
    save_png_atomic(out / "ground_truth/crack/part_00_mask.png", newer)  # the save got this far, no further
    with TestClient(make_app()) as client:
        warnings = client.get("/api/state").json()["warnings"]
        store = client.app.state.labeller.store
        entry = store.entry(store.records[0])
    assert any("part_00.jpg" in w and "stopped before it was recorded" in w for w in warnings)
    assert entry["area"] == 200 and entry["status"] == "labelled"
    data = json.loads((out / "annotations_coco.json").read_text())
    assert [a["area"] for a in data["annotations"]] == [200]
